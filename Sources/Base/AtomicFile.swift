#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed atomic write: the system call that failed and the system's reason
/// ("No space left on device", "File too large").
public struct AtomicWriteError: Error, Sendable {
    public let call: String
    public let reason: String
}

/// Writing a whole file so that a reader sees the old contents or the new, never a part.
public enum AtomicFile {
    /// Writes `bytes` to `<path>.tmp-<pid>`, then renames it over `path`. On failure (disk full,
    /// file-size limit, a write of nothing) the temporary file is removed, `path` is left as it
    /// was, and the failing call is thrown with the system's reason.
    public static func write(_ bytes: UnsafeRawBufferPointer, to path: String) throws {
        let tmp = path + ".tmp-\(getpid())"
        func failure(_ call: String) -> AtomicWriteError {
            let reason = String(cString: strerror(errno))
            unlink(tmp)
            return AtomicWriteError(call: call, reason: reason)
        }
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw failure("open") }
        var done = 0
        while done < bytes.count {
            let n = writeBytes(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                let error = failure("write")
                close(fd)
                throw error
            }
            done += n
        }
        guard close(fd) == 0 else { throw failure("close") }
        guard rename(tmp, path) == 0 else { throw failure("rename") }
    }
}

/// The system's `write` (the name is taken inside `AtomicFile`).
private func writeBytes(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int { write(fd, p, n) }
