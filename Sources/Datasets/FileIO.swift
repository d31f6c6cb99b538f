import Base
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Small POSIX file helpers: whole-file reads without Foundation's copies, and atomic writes
/// (write a temporary file beside the target, then rename) so that an interrupted or failed
/// write never destroys what was there before.
public enum FileIO {
    /// Reads a whole file into memory.
    public static func readBytes(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        if fd < 0 { throw DatasetError.unreadableFile(path: path, reason: errnoString()) }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw DatasetError.unreadableFile(path: path, reason: errnoString()) }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            throw DatasetError.unreadableFile(path: path, reason: "is a directory")
        }
        let size = Int(st.st_size)
        var bytes = [UInt8](repeating: 0, count: max(size, 0))
        var done = 0
        // Read what stat announced, then keep reading in small chunks in case the file grew
        // (or is a special file with st_size 0): no doubling of a large buffer.
        while true {
            if done == bytes.count {
                var chunk = [UInt8](repeating: 0, count: 65536)
                let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw DatasetError.unreadableFile(path: path, reason: errnoString())
                }
                if n == 0 { break }
                bytes.append(contentsOf: chunk[0..<n])
                done += n
                continue
            }
            let n = bytes.withUnsafeMutableBytes { buf in
                read(fd, buf.baseAddress! + done, buf.count - done)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw DatasetError.unreadableFile(path: path, reason: errnoString())
            }
            if n == 0 { break }
            done += n
        }
        bytes.removeSubrange(done...)
        return bytes
    }

    /// Reads a whole file as UTF-8 text (invalid sequences are repaired).
    public static func readText(_ path: String) throws -> String {
        let bytes = try readBytes(path)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes `bytes` to `path` atomically (`AtomicFile`): `path` keeps its old contents when
    /// the write fails.
    public static func writeAtomically(_ path: String, bytes: some Collection<UInt8>) throws {
        do {
            try Array(bytes).withUnsafeBytes { try AtomicFile.write($0, to: path) }
        } catch let e as AtomicWriteError {
            throw DatasetError.unwritableFile(path: path, reason: e.reason)
        }
    }

    /// Writes UTF-8 text atomically.
    public static func writeAtomically(_ path: String, text: String) throws {
        try writeAtomically(path, bytes: Array(text.utf8))
    }

    /// Creates a directory and its parents (like `mkdir -p`).
    public static func makeDirectories(_ path: String) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            current += "/" + part
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw DatasetError.unwritableFile(path: current, reason: errnoString())
            }
        }
        if !isDirectory(path) {
            throw DatasetError.unwritableFile(path: path, reason: "exists and is not a directory")
        }
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    public static func isFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    /// The names in a directory (not `.` and `..`), sorted by their UTF-8 bytes.
    public static func listDirectory(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else {
            throw DatasetError.unreadableFile(path: path, reason: errnoString())
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> String in
                let bytes = raw.bindMemory(to: UInt8.self)
                let n = bytes.firstIndex(of: 0) ?? bytes.count
                return String(decoding: bytes[0..<n], as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            names.append(name)
        }
        return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// An absolute, normalised form of `path` (relative to the current directory; `.` and
    /// `..` components resolved textually; symbolic links are kept as they are).
    public static func absolutePath(_ path: String) -> String {
        var full = path
        if !path.hasPrefix("/") {
            var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let cwd = getcwd(&buf, buf.count).map { _ in
                String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            } ?? "."
            full = cwd + "/" + path
        }
        var parts: [Substring] = []
        for part in full.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if !parts.isEmpty { parts.removeLast() }
                continue
            }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// Joins path components with `/`.
    public static func join(_ parts: String...) -> String {
        var out = ""
        for p in parts where !p.isEmpty {
            if out.isEmpty || out.hasSuffix("/") { out += p } else { out += "/" + p }
        }
        return out
    }

    static func errnoString() -> String {
        String(cString: strerror(errno))
    }
}

extension String {
    /// Lines split at "\n", "\r\n" or "\r" (Swift treats "\r\n" as one Character, so a plain
    /// split on "\n" would miss Windows line ends).
    func splitLines() -> [Substring] {
        split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" })
    }
}
