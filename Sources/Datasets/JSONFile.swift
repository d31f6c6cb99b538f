#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension JSONScanner {
    /// Runs `body` with a scanner over the file at `path`, memory-mapped read-only (no copy,
    /// no zero-fill: a 450 MB file costs its page-cache pages, not another 450 MB of heap).
    /// Falls back to reading the file into memory when it cannot be mapped.
    public static func withFile<R>(_ path: String, _ body: (inout JSONScanner) throws -> R) throws -> R {
        let fd = open(path, O_RDONLY)
        if fd < 0 { throw COCOError.unreadable(path: path, reason: "cannot read: " + String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw COCOError.unreadable(path: path, reason: "cannot read: " + String(cString: strerror(errno))) }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw COCOError.unreadable(path: path, reason: "cannot read: is a directory") }
        let size = Int(st.st_size)
        if (st.st_mode & S_IFMT) == S_IFREG && size > 0,
           let map = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED {
            defer { munmap(map, size) }
            _ = madvise(map, size, Int32(MADV_SEQUENTIAL))
            var s = JSONScanner(path: path, base: map.assumingMemoryBound(to: UInt8.self), count: size)
            return try body(&s)
        }
        let bytes: [UInt8]
        do { bytes = try FileIO.readBytes(path) } catch { throw COCOError.unreadable(path: path, reason: "\(error)") }
        return try withScanner(bytes, path: path, body)
    }
}
