import ArgumentParser
import Datasets
import Eval
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An error that the tool prints as one line.
struct ToolError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// Writes one line to stderr, prefixed with the tool's name.
func printError(_ s: String) {
    let line = Array("get-map: \(s)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

/// Runs `body`, turning errors into one line on stderr and exit status 1. The library's errors
/// describe themselves with the file (and line or key) they are about.
func runReporting(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ExitCode {
        throw error
    } catch let error as ToolError {
        printError(error.message)
        throw ExitCode.failure
    } catch {
        printError("\(error)")
        throw ExitCode.failure
    }
}

/// Writes text to a file atomically, creating its folder.
func writeText(_ text: String, to path: String) throws {
    let dir = (path as NSString).deletingLastPathComponent
    if !dir.isEmpty { try FileIO.makeDirectories(dir) }
    try FileIO.writeAtomically(path, text: text)
}

/// A progress bar on stderr, drawn only when stderr is a terminal and the work is long enough
/// to notice (redrawn at most 10 times a second). Safe to call from several threads.
final class ProgressBar: @unchecked Sendable {
    let label: String
    let enabled: Bool
    let lock = NSLock()
    var lastDraw = 0.0
    var drawn = false
    let start = Date()

    init(label: String, total: Int, minimumTotal: Int = 8) {
        self.label = label
        self.enabled = isatty(2) != 0 && total >= minimumTotal
    }

    func update(_ done: Int, _ total: Int) {
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        let now = Date().timeIntervalSince(start)
        if done < total && now - lastDraw < 0.1 { return }
        if !drawn && now < 0.3 && done < total { return }
        lastDraw = now
        drawn = true
        let width = 30
        let filled = total > 0 ? width * done / total : width
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let text = "\r\(label) [\(bar)] \(done)/\(total) \(String(format: "%.1f", now))s"
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }

    /// Ends the bar's line (if one was drawn).
    func finish() {
        lock.lock()
        defer { lock.unlock() }
        if drawn {
            _ = "\n".utf8CString.withUnsafeBytes { write(2, $0.baseAddress, 1) }
            drawn = false
        }
    }
}
