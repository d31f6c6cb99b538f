#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A malformed JSON document: the file, the 1-based line and the byte offset of the problem.
public struct JSONError: Error, Equatable, CustomStringConvertible, Sendable {
    public var path: String
    public var line: Int
    public var offset: Int
    public var reason: String

    public init(path: String, line: Int, offset: Int, reason: String) {
        self.path = path
        self.line = line
        self.offset = offset
        self.reason = reason
    }

    public var description: String { "\(path):\(line): malformed JSON at byte \(offset): \(reason)" }
}

/// A lean, pull-style JSON reader over bytes (no tree is built): the caller walks objects and
/// arrays and reads the values it wants straight into its own structs, skipping the rest.
///
/// Why not Foundation: JSONSerialization and JSONDecoder are 2-2.5x slower than Python's json on
/// a COCO file (NOTES-swift-linux.md); pycocotools' load is json.load plus indexing, so beating
/// it needs a parser that allocates nothing per number.
///
/// Numbers: Clinger's fast path (mantissa below 2^53, |exponent| <= 22 gives a correctly rounded
/// result with one multiplication or division); every other number goes to `strtod`, so each
/// value is the correctly rounded double, the same as Python's `float()`. The non-standard tokens
/// `NaN`, `Infinity` and `-Infinity` that Python's json writes are accepted.
///
/// The scanner reads through an unsafe pointer: use it only inside `withScanner`.
public struct JSONScanner {
    public let path: String
    let base: UnsafePointer<UInt8>
    let end: Int
    public internal(set) var position: Int = 0

    /// Size of the document in bytes.
    public var byteCount: Int { end }

    init(path: String, base: UnsafePointer<UInt8>, count: Int) {
        self.path = path
        self.base = base
        self.end = count
    }

    /// Runs `body` with a scanner over `bytes`; `path` names the file in errors.
    public static func withScanner<R>(_ bytes: [UInt8], path: String, _ body: (inout JSONScanner) throws -> R) throws -> R {
        try bytes.withUnsafeBufferPointer { buf in
            // A zero-length array may have no base address: scan a one-byte dummy instead.
            var dummy: UInt8 = 0
            if let p = buf.baseAddress, buf.count > 0 {
                var s = JSONScanner(path: path, base: p, count: buf.count)
                return try body(&s)
            }
            return try withUnsafePointer(to: &dummy) { p in
                var s = JSONScanner(path: path, base: p, count: 0)
                return try body(&s)
            }
        }
    }

    // MARK: errors

    /// An error at the current position.
    public func error(_ reason: String) -> JSONError {
        error(reason, at: position)
    }

    func error(_ reason: String, at offset: Int) -> JSONError {
        var line = 1
        var i = 0
        let stop = min(offset, end)
        while i < stop {
            if base[i] == UInt8(ascii: "\n") { line += 1 }
            i += 1
        }
        return JSONError(path: path, line: line, offset: offset, reason: reason)
    }

    func describeCurrent() -> String {
        if position >= end { return "end of file" }
        let c = base[position]
        if c >= 32 && c < 127 { return "'\(Character(Unicode.Scalar(c)))'" }
        return "byte \(c)"
    }

    // MARK: structure

    @inline(__always)
    mutating func skipWhitespace() {
        while position < end {
            let c = base[position]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { position += 1 } else { return }
        }
    }

    /// The kind of the next value, after whitespace.
    public enum Kind: Equatable, Sendable { case object, array, string, number, bool, null, end, invalid }

    public mutating func peekKind() -> Kind {
        skipWhitespace()
        if position >= end { return .end }
        switch base[position] {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "N"), UInt8(ascii: "I"): return .number
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool
        case UInt8(ascii: "n"): return .null
        default: return .invalid
        }
    }

    @inline(__always)
    mutating func expect(_ c: UInt8, _ what: String) throws {
        skipWhitespace()
        guard position < end, base[position] == c else {
            throw error("expected \(what), found \(describeCurrent())")
        }
        position += 1
    }

    /// Consumes `{`.
    public mutating func beginObject() throws { try expect(UInt8(ascii: "{"), "'{'") }

    /// Consumes `[`.
    public mutating func beginArray() throws { try expect(UInt8(ascii: "["), "'['") }

    /// The next key of the object being read (consuming the `:` after it), or nil at its `}`.
    /// `first` must be true for the first call after `beginObject`.
    public mutating func nextKey(first: inout Bool) throws -> JSONKey? {
        skipWhitespace()
        guard position < end else { throw error("unterminated object") }
        if base[position] == UInt8(ascii: "}") {
            position += 1
            return nil
        }
        if !first {
            guard base[position] == UInt8(ascii: ",") else { throw error("expected ',' or '}' in an object, found \(describeCurrent())") }
            position += 1
            skipWhitespace()
        }
        first = false
        guard position < end, base[position] == UInt8(ascii: "\"") else {
            throw error("expected a key string, found \(describeCurrent())")
        }
        let key = try readKey()
        try expect(UInt8(ascii: ":"), "':' after a key")
        return key
    }

    /// True while the array being read has another element (consuming the `,` before it),
    /// false at its `]`. `first` must be true for the first call after `beginArray`.
    public mutating func nextElement(first: inout Bool) throws -> Bool {
        skipWhitespace()
        guard position < end else { throw error("unterminated array") }
        if base[position] == UInt8(ascii: "]") {
            position += 1
            return false
        }
        if !first {
            guard base[position] == UInt8(ascii: ",") else { throw error("expected ',' or ']' in an array, found \(describeCurrent())") }
            position += 1
        }
        first = false
        return true
    }

    /// Checks that only whitespace follows the top-level value.
    public mutating func expectEnd() throws {
        skipWhitespace()
        if position < end { throw error("unexpected \(describeCurrent()) after the top-level value") }
    }

    // MARK: strings

    /// A key as raw bytes of the document (no escapes) or a decoded string (it had escapes).
    public struct JSONKey {
        let start: UnsafePointer<UInt8>
        let count: Int
        let decoded: String?

        /// Whether the key equals `name` (ASCII).
        @inline(__always)
        public func equals(_ name: StaticString) -> Bool {
            if let decoded { return decoded == name.description }
            guard name.utf8CodeUnitCount == count else { return false }
            let p = name.utf8Start
            var i = 0
            while i < count {
                if p[i] != start[i] { return false }
                i += 1
            }
            return true
        }

        public var string: String {
            decoded ?? String(decoding: UnsafeBufferPointer(start: start, count: count), as: UTF8.self)
        }
    }

    mutating func readKey() throws -> JSONKey {
        let open = position
        position += 1
        let start = position
        while position < end {
            let c = base[position]
            if c == UInt8(ascii: "\"") {
                let key = JSONKey(start: base + start, count: position - start, decoded: nil)
                position += 1
                return key
            }
            if c == UInt8(ascii: "\\") {
                position = open
                return JSONKey(start: base, count: 0, decoded: try readString())
            }
            position += 1
        }
        throw error("unterminated string", at: open)
    }

    /// Reads a string value, decoding escapes.
    public mutating func readString() throws -> String {
        let bytes = try readStringBytes()
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Reads a string value as UTF-8 bytes, decoding escapes.
    public mutating func readStringBytes() throws -> [UInt8] {
        try expect(UInt8(ascii: "\""), "a string")
        let open = position - 1
        let start = position
        // Fast path: no escapes.
        while position < end {
            let c = base[position]
            if c == UInt8(ascii: "\"") {
                let out = Array(UnsafeBufferPointer(start: base + start, count: position - start))
                position += 1
                return out
            }
            if c == UInt8(ascii: "\\") { break }
            position += 1
        }
        var out = Array(UnsafeBufferPointer(start: base + start, count: position - start))
        while position < end {
            let c = base[position]
            if c == UInt8(ascii: "\"") {
                position += 1
                return out
            }
            if c != UInt8(ascii: "\\") {
                out.append(c)
                position += 1
                continue
            }
            position += 1
            guard position < end else { break }
            let e = base[position]
            position += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try readHex4()
                if scalar >= 0xD800 && scalar < 0xDC00, position + 1 < end,
                   base[position] == UInt8(ascii: "\\"), base[position + 1] == UInt8(ascii: "u") {
                    position += 2
                    let low = try readHex4()
                    if low >= 0xDC00 && low < 0xE000 {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        appendUTF8(0xFFFD, to: &out)
                        scalar = low
                    }
                }
                appendUTF8(Unicode.Scalar(scalar) != nil ? scalar : 0xFFFD, to: &out)
            default:
                throw error("invalid escape '\\\(Character(Unicode.Scalar(e)))'", at: position - 2)
            }
        }
        throw error("unterminated string", at: open)
    }

    mutating func readHex4() throws -> UInt32 {
        guard position + 4 <= end else { throw error("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = base[position]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw error("invalid hex digit in \\u escape")
            }
            v = v * 16 + d
            position += 1
        }
        return v
    }

    func appendUTF8(_ scalar: UInt32, to out: inout [UInt8]) {
        let s = Unicode.Scalar(scalar) ?? "\u{FFFD}"
        out.append(contentsOf: Array(String(Character(s)).utf8))
    }

    /// Reads `true` or `false`.
    public mutating func readBool() throws -> Bool {
        skipWhitespace()
        if matchLiteral("true") { return true }
        if matchLiteral("false") { return false }
        throw error("expected true or false, found \(describeCurrent())")
    }

    /// Consumes `null` if it comes next.
    public mutating func skipNull() -> Bool {
        skipWhitespace()
        return matchLiteral("null")
    }

    /// Nesting deeper than this is an error (a hostile file must not overflow the stack).
    public static let maximumDepth = 512

    /// Skips any value (validating its syntax).
    public mutating func skipValue() throws {
        try skipValue(depth: 0)
    }

    mutating func skipValue(depth: Int) throws {
        if depth > Self.maximumDepth { throw error("nesting deeper than \(Self.maximumDepth) levels") }
        switch peekKind() {
        case .object:
            try beginObject()
            var first = true
            while try nextKey(first: &first) != nil { try skipValue(depth: depth + 1) }
        case .array:
            try beginArray()
            var first = true
            while try nextElement(first: &first) { try skipValue(depth: depth + 1) }
        case .string:
            // Skip without decoding, but validate the escapes' shape.
            let open = position
            position += 1
            while position < end {
                let c = base[position]
                if c == UInt8(ascii: "\"") { position += 1; return }
                position += c == UInt8(ascii: "\\") ? 2 : 1
            }
            throw error("unterminated string", at: open)
        case .number: _ = try readDouble()
        case .bool: _ = try readBool()
        case .null: _ = skipNull()
        case .end: throw error("expected a value, found end of file")
        case .invalid: throw error("expected a value, found \(describeCurrent())")
        }
    }

    /// Reads an array of numbers, appending to `out`.
    public mutating func readDoubleArray(into out: inout [Double]) throws {
        try beginArray()
        var first = true
        while try nextElement(first: &first) { out.append(try readDouble()) }
    }
}
