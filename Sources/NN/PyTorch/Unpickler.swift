/// A restricted unpickler: the binary opcodes of protocols 2 to 5 that state dicts, optimizer
/// states and argument namespaces use, turned into `PickleValue` data. Globals are kept as names
/// and calls are interpreted only for the few callables of `TorchGlobals` (OrderedDict, the
/// tensor rebuilders, argparse.Namespace); any other call becomes an inert record of its name.
/// Nothing is imported, looked up or executed. Every length is checked against the bytes left,
/// so a truncated or lying pickle is an error, never a crash or a huge allocation.
final class Unpickler {
    private let buf: UnsafeRawBufferPointer
    /// The byte after the last one read (after `load`, the byte after STOP).
    private(set) var pos: Int
    let heap: PickleHeap
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    /// Turns a persistent id (BINPERSID) into a value; throws on an id it does not accept.
    private let persistentLoad: (PickleValue, PickleHeap) throws -> PickleValue

    static let maxStack = 1 << 22

    init(_ buf: UnsafeRawBufferPointer, at start: Int = 0, heap: PickleHeap = PickleHeap(),
         persistentLoad: @escaping (PickleValue, PickleHeap) throws -> PickleValue = { _, _ in
             throw PickleError.badPersistentID("this pickle may not reference storages") }) {
        self.buf = buf
        self.pos = start
        self.heap = heap
        self.persistentLoad = persistentLoad
    }

    // MARK: reading bytes

    private func take(_ n: Int) throws -> UnsafeRawBufferPointer {
        guard n >= 0, n <= buf.count - pos else { throw PickleError.truncated(at: pos) }
        defer { pos += n }
        return UnsafeRawBufferPointer(rebasing: buf[pos..<(pos + n)])
    }

    private func byte() throws -> UInt8 { try take(1)[0] }

    /// An unsigned little-endian integer of `n` bytes (n <= 8), as Int when it fits.
    private func length(_ n: Int) throws -> Int {
        let b = try take(n)
        var v: UInt64 = 0
        for i in 0..<n { v |= UInt64(b[i]) << (8 * UInt64(i)) }
        guard v <= UInt64(Int.max) else { throw PickleError.malformed("length \(v) is implausible", at: pos - n) }
        return Int(v)
    }

    private func line() throws -> String {
        guard let nl = buf[pos..<Swift.min(buf.count, pos + 1024)].firstIndex(of: 0x0A) else {
            throw PickleError.malformed("no end of line within 1024 bytes", at: pos)
        }
        let s = String(decoding: try take(nl - pos), as: UTF8.self)
        pos += 1
        return s
    }

    private func text(_ n: Int) throws -> String { String(decoding: try take(n), as: UTF8.self) }

    // MARK: the stack

    private func push(_ v: PickleValue) throws {
        guard stack.count < Self.maxStack else { throw PickleError.malformed("stack deeper than \(Self.maxStack)", at: pos) }
        stack.append(v)
    }

    private func pop() throws -> PickleValue {
        guard let v = stack.popLast(), stack.count >= (marks.last ?? 0) else { throw PickleError.malformed("stack underflow", at: pos) }
        return v
    }

    /// The values above the topmost mark, removing them and the mark.
    private func popMark() throws -> [PickleValue] {
        guard let m = marks.popLast(), m <= stack.count else { throw PickleError.malformed("no mark on the stack", at: pos) }
        defer { stack.removeSubrange(m...) }
        return Array(stack[m...])
    }

    /// Mutates the container under the top of the stack (APPEND, SETITEMS...).
    private func mutateTop(_ body: (inout PickleContainer) throws -> Void) throws {
        guard let top = stack.last, case let .ref(i) = top, stack.count > (marks.last ?? 0) else {
            throw PickleError.malformed("expected a container on the stack", at: pos)
        }
        try heap.modify(i, body)
    }

    private func memoGet(_ key: Int) throws -> PickleValue {
        guard let v = memo[key] else { throw PickleError.malformed("memo key \(key) was never stored", at: pos) }
        return v
    }

    private func memoPut(_ key: Int) throws {
        guard let v = stack.last else { throw PickleError.malformed("memo store of an empty stack", at: pos) }
        guard memo.count < Self.maxStack else { throw PickleError.malformed("too many memo entries", at: pos) }
        memo[key] = v
    }

    // MARK: the opcodes

    /// Runs the pickle to its STOP and returns the object it built.
    func load() throws -> PickleValue {
        while true {
            let at = pos
            let op = try byte()
            switch op {
            case 0x80:  // PROTO
                let p = try byte()
                guard p >= 2, p <= 5 else { throw PickleError.malformed("protocol \(p) (only 2 to 5 are read)", at: at) }
            case 0x95: _ = try take(8)  // FRAME: a size hint
            case 0x2E:  // STOP: the top of the stack, as Python's pickle returns it
                guard let v = stack.last else { throw PickleError.malformed("STOP with an empty stack", at: at) }
                return v
            case 0x28: marks.append(stack.count)  // MARK
            case 0x30: _ = try pop()  // POP
            case 0x31: _ = try popMark()  // POP_MARK
            case 0x32:  // DUP
                let v = try pop()
                try push(v); try push(v)
            case 0x4E: try push(.none)
            case 0x88: try push(.bool(true))
            case 0x89: try push(.bool(false))
            case 0x4A: try push(.int(Int(Int32(bitPattern: UInt32(try length(4))))))  // BININT
            case 0x4B: try push(.int(try length(1)))  // BININT1
            case 0x4D: try push(.int(try length(2)))  // BININT2
            case 0x8A: try push(try long(try length(1)))  // LONG1
            case 0x8B: try push(try long(try length(4)))  // LONG4
            case 0x47:  // BINFLOAT, big-endian
                let b = try take(8)
                var bits: UInt64 = 0
                for i in 0..<8 { bits = bits << 8 | UInt64(b[i]) }
                try push(.float(Double(bitPattern: bits)))
            case 0x58: try push(.string(try text(try length(4))))  // BINUNICODE
            case 0x8C: try push(.string(try text(try length(1))))  // SHORT_BINUNICODE
            case 0x8D: try push(.string(try text(try length(8))))  // BINUNICODE8
            case 0x54: try push(.string(try text(try length(4))))  // BINSTRING (Python 2 str)
            case 0x55: try push(.string(try text(try length(1))))  // SHORT_BINSTRING
            case 0x42: try push(.bytes(Array(try take(try length(4)))))  // BINBYTES
            case 0x43: try push(.bytes(Array(try take(try length(1)))))  // SHORT_BINBYTES
            case 0x8E, 0x96: try push(.bytes(Array(try take(try length(8)))))  // BINBYTES8, BYTEARRAY8
            case 0x29: try push(heap.add(.tuple([])))  // EMPTY_TUPLE
            case 0x5D: try push(heap.add(.list([])))  // EMPTY_LIST
            case 0x7D: try push(heap.add(.dict([])))  // EMPTY_DICT
            case 0x8F: try push(heap.add(.set([])))  // EMPTY_SET
            case 0x74: try push(heap.add(.tuple(try popMark())))  // TUPLE
            case 0x85, 0x86, 0x87:  // TUPLE1, TUPLE2, TUPLE3
                var xs: [PickleValue] = []
                for _ in 0..<Int(op - 0x84) { xs.insert(try pop(), at: 0) }
                try push(heap.add(.tuple(xs)))
            case 0x6C: try push(heap.add(.list(try popMark())))  // LIST
            case 0x64: try push(heap.add(.dict(try pairs(try popMark()))))  // DICT
            case 0x91: try push(heap.add(.set(try popMark())))  // FROZENSET
            case 0x61:  // APPEND
                let v = try pop()
                try append([v], at: at)
            case 0x65: try append(try popMark(), at: at)  // APPENDS
            case 0x90:  // ADDITEMS
                let xs = try popMark()
                try mutateTop { c in
                    guard case var .set(s) = c else { throw PickleError.malformed("ADDITEMS to a non-set", at: at) }
                    c = .none
                    s.append(contentsOf: xs)
                    c = .set(s)
                }
            case 0x73:  // SETITEM
                let v = try pop(), k = try pop()
                try setItems([(k, v)], at: at)
            case 0x75: try setItems(try pairs(try popMark()), at: at)  // SETITEMS
            case 0x63:  // GLOBAL
                let module = try line(), name = try line()
                try push(.global(module + "." + name))
            case 0x93:  // STACK_GLOBAL
                let name = try pop(), module = try pop()
                guard case let .string(n) = name, case let .string(m) = module else {
                    throw PickleError.malformed("STACK_GLOBAL of non-strings", at: at)
                }
                try push(.global(m + "." + n))
            case 0x52:  // REDUCE
                let args = try pop(), callable = try pop()
                try push(try TorchGlobals.call(callable, args: args, heap: heap))
            case 0x81:  // NEWOBJ
                let args = try pop(), cls = try pop()
                try push(try TorchGlobals.newObject(cls, args: args, heap: heap))
            case 0x92:  // NEWOBJ_EX
                _ = try pop()
                let args = try pop(), cls = try pop()
                try push(try TorchGlobals.newObject(cls, args: args, heap: heap))
            case 0x62:  // BUILD
                let state = try pop(), obj = try pop()
                try TorchGlobals.build(obj, state: state, heap: heap)
                try push(obj)
            case 0x51:  // BINPERSID
                let pid = try pop()
                try push(try persistentLoad(pid, heap))
            case 0x71: try memoPut(try length(1))  // BINPUT
            case 0x72: try memoPut(try length(4))  // LONG_BINPUT
            case 0x94: try memoPut(memo.count)  // MEMOIZE
            case 0x68: try push(try memoGet(try length(1)))  // BINGET
            case 0x6A: try push(try memoGet(try length(4)))  // LONG_BINGET
            default:
                throw PickleError.unsupportedOpcode(code: op, name: Self.opcodeNames[op] ?? "unknown", at: at)
            }
        }
    }

    /// LONG1 / LONG4: `n` little-endian two's-complement bytes.
    private func long(_ n: Int) throws -> PickleValue {
        let b = Array(try take(n))
        guard n <= 8 else { return .bigInt(b) }
        guard n > 0 else { return .int(0) }
        var v: UInt64 = b[n - 1] >= 0x80 ? ~0 : 0
        for i in (0..<n).reversed() { v = v << 8 | UInt64(b[i]) }
        return .int(Int(Int64(bitPattern: v)))
    }

    private func pairs(_ xs: [PickleValue]) throws -> [(key: PickleValue, value: PickleValue)] {
        guard xs.count % 2 == 0 else { throw PickleError.malformed("odd number of dict items", at: pos) }
        return stride(from: 0, to: xs.count, by: 2).map { (key: xs[$0], value: xs[$0 + 1]) }
    }

    private func append(_ xs: [PickleValue], at: Int) throws {
        try mutateTop { c in
            guard case var .list(l) = c else { throw PickleError.malformed("APPEND to a non-list", at: at) }
            c = .none
            l.append(contentsOf: xs)
            c = .list(l)
        }
    }

    private func setItems(_ kv: [(key: PickleValue, value: PickleValue)], at: Int) throws {
        try mutateTop { c in
            guard case var .dict(d) = c else { throw PickleError.malformed("SETITEM on a non-dict", at: at) }
            c = .none
            d.append(contentsOf: kv)
            c = .dict(d)
        }
    }

    /// Names of the opcodes this reader refuses, for its errors (protocol 0 text opcodes, the
    /// extension registry, out-of-band buffers, and the calls INST / OBJ).
    static let opcodeNames: [UInt8: String] = [
        0x49: "INT", 0x4C: "LONG", 0x46: "FLOAT", 0x53: "STRING", 0x56: "UNICODE", 0x50: "PERSID",
        0x69: "INST", 0x6F: "OBJ", 0x70: "PUT", 0x67: "GET", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4",
        0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
    ]
}
