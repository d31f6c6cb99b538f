import CDeflate

/// Why a zip archive could not be read; the file reader adds the path.
struct ZipError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = "zip archive: " + d }
}

/// The entries of a zip archive, from its central directory (zip64 sizes and offsets
/// followed): what `torch.save` writes since torch 1.6. Entries are stored (torch's choice) or
/// deflated (other tools); contents are checked against their CRC-32. Every size and offset is
/// checked against the file before it is used.
struct ZipArchive {
    struct Entry {
        let name: String
        let method: Int
        let compressedSize: Int
        let size: Int
        let crc: UInt32
        let localHeader: Int
    }

    private let buf: UnsafeRawBufferPointer
    /// Entries by name (the first of duplicated names).
    private(set) var entries: [String: Entry] = [:]

    /// Deflated entries may expand at most this much (deflate's own limit is about 1032).
    static let maxRatio = 1100

    init(_ buf: UnsafeRawBufferPointer) throws {
        self.buf = buf
        let (count, cdOffset, cdSize) = try centralDirectory()
        var p = cdOffset
        let end = cdOffset + cdSize
        for _ in 0..<count {
            guard p + 46 <= end, u32(p) == 0x0201_4B50 else { throw ZipError("central directory entry at byte \(p) is malformed") }
            let flags = u16(p + 8), nameLen = Int(u16(p + 28)), extraLen = Int(u16(p + 30)), commentLen = Int(u16(p + 32))
            guard p + 46 + nameLen + extraLen + commentLen <= end else { throw ZipError("central directory entry at byte \(p) runs past its end") }
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: buf[(p + 46)..<(p + 46 + nameLen)]), as: UTF8.self)
            guard flags & 1 == 0 else { throw ZipError("entry '\(name)' is encrypted") }
            var size = Int(u32(p + 24)), csize = Int(u32(p + 20)), local = Int(u32(p + 42))
            try Self.zip64(extra: UnsafeRawBufferPointer(rebasing: buf[(p + 46 + nameLen)..<(p + 46 + nameLen + extraLen)]),
                           size: &size, compressedSize: &csize, offset: &local, entry: name)
            if entries[name] == nil {
                entries[name] = Entry(name: name, method: Int(u16(p + 10)), compressedSize: csize, size: size, crc: u32(p + 16), localHeader: local)
            }
            p += 46 + nameLen + extraLen + commentLen
        }
    }

    /// (entry count, offset, size) of the central directory, from the end record (or its zip64 form).
    private func centralDirectory() throws -> (Int, Int, Int) {
        guard buf.count >= 22 else { throw ZipError("\(buf.count) bytes, shorter than an end record") }
        var e = buf.count - 22
        let lowest = Swift.max(0, e - 0xFFFF)
        while e >= lowest, u32(e) != 0x0605_4B50 { e -= 1 }
        guard e >= lowest else { throw ZipError("no end of central directory record (truncated?)") }
        var count = Int(u16(e + 10)), size = Int(u32(e + 12)), offset = Int(u32(e + 16))
        if count == 0xFFFF || size == 0xFFFF_FFFF || offset == 0xFFFF_FFFF {
            guard e >= 20, u32(e - 20) == 0x0706_4B50, let z = Int(exactly: u64(e - 12)), z >= 0, z <= buf.count - 56,
                  u32(z) == 0x0606_4B50 else {
                throw ZipError("zip64 end record missing or malformed")
            }
            guard let c = Int(exactly: u64(z + 32)), let s = Int(exactly: u64(z + 40)), let o = Int(exactly: u64(z + 48)) else {
                throw ZipError("zip64 end record holds implausible sizes")
            }
            (count, size, offset) = (c, s, o)
        }
        guard offset >= 0, size >= 0, offset <= buf.count, size <= buf.count - offset, count <= size / 46 + 1 else {
            throw ZipError("central directory (\(count) entries, \(size) bytes at \(offset)) lies outside the \(buf.count) bytes")
        }
        return (count, offset, size)
    }

    /// Replaces the 0xFFFFFFFF fields by their zip64 extra field values.
    private static func zip64(extra: UnsafeRawBufferPointer, size: inout Int, compressedSize: inout Int, offset: inout Int,
                              entry: String) throws {
        guard size == 0xFFFF_FFFF || compressedSize == 0xFFFF_FFFF || offset == 0xFFFF_FFFF else { return }
        var p = 0
        while p + 4 <= extra.count {
            let id = Int(extra[p]) | Int(extra[p + 1]) << 8, len = Int(extra[p + 2]) | Int(extra[p + 3]) << 8
            guard p + 4 + len <= extra.count else { break }
            if id == 1 {
                var q = p + 4
                for field in [0, 1, 2] {
                    let current = [size, compressedSize, offset][field]
                    guard current == 0xFFFF_FFFF else { continue }
                    guard q + 8 <= p + 4 + len else { throw ZipError("entry '\(entry)': zip64 field too short") }
                    var v: UInt64 = 0
                    for i in 0..<8 { v |= UInt64(extra[q + i]) << (8 * UInt64(i)) }
                    guard let n = Int(exactly: v) else { throw ZipError("entry '\(entry)': implausible zip64 size") }
                    switch field {
                    case 0: size = n
                    case 1: compressedSize = n
                    default: offset = n
                    }
                    q += 8
                }
                return
            }
            p += 4 + len
        }
        throw ZipError("entry '\(entry)' lacks its zip64 sizes")
    }

    /// Calls `body` with the uncompressed contents of `e`.
    func withContents<R>(_ e: Entry, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let h = e.localHeader
        guard h >= 0, h <= buf.count - 30, u32(h) == 0x0403_4B50 else { throw ZipError("entry '\(e.name)': no local header at byte \(h)") }
        let start = h + 30 + Int(u16(h + 26)) + Int(u16(h + 28))
        guard e.compressedSize >= 0, start <= buf.count, e.compressedSize <= buf.count - start else {
            throw ZipError("entry '\(e.name)' (\(e.compressedSize) bytes at \(start)) runs past the end of the \(buf.count) bytes (truncated?)")
        }
        let raw = UnsafeRawBufferPointer(rebasing: buf[start..<(start + e.compressedSize)])
        switch e.method {
        case 0:
            guard e.size == e.compressedSize else { throw ZipError("stored entry '\(e.name)' has two sizes") }
            try checkCRC(raw, e)
            return try body(raw)
        case 8:
            guard e.size <= e.compressedSize * Self.maxRatio + 65536 else {
                throw ZipError("entry '\(e.name)' claims \(e.size) bytes from \(e.compressedSize) compressed")
            }
            var out = [UInt8](repeating: 0, count: e.size)
            try out.withUnsafeMutableBytes { dst in
                guard let d = libdeflate_alloc_decompressor() else { throw ZipError("cannot allocate a decompressor") }
                defer { libdeflate_free_decompressor(d) }
                var actual = 0
                let r = libdeflate_deflate_decompress(d, raw.baseAddress, raw.count, dst.baseAddress, dst.count, &actual)
                guard r == LIBDEFLATE_SUCCESS, actual == e.size else { throw ZipError("entry '\(e.name)': corrupt deflate stream") }
            }
            return try out.withUnsafeBytes { b in
                try checkCRC(b, e)
                return try body(b)
            }
        default:
            throw ZipError("entry '\(e.name)' uses compression method \(e.method) (stored and deflate are read)")
        }
    }

    private func checkCRC(_ b: UnsafeRawBufferPointer, _ e: Entry) throws {
        let crc = UInt32(truncatingIfNeeded: libdeflate_crc32(0, b.baseAddress, b.count))
        guard crc == e.crc else { throw ZipError("entry '\(e.name)' fails its CRC check (corrupt file)") }
    }

    private func u16(_ p: Int) -> UInt16 { UInt16(buf[p]) | UInt16(buf[p + 1]) << 8 }
    private func u32(_ p: Int) -> UInt32 { UInt32(u16(p)) | UInt32(u16(p + 2)) << 16 }
    private func u64(_ p: Int) -> UInt64 { UInt64(u32(p)) | UInt64(u32(p + 4)) << 32 }
}
