import ArgumentParser
import Datasets
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An error that a tool prints as one line.
public struct ToolError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The shared plumbing of the command-line tools: one-line errors, text output, progress bars.
public enum ToolIO {
    /// The tool's name, prefixed to error lines (set once in `main`).
    nonisolated(unsafe) public static var toolName = (CommandLine.arguments.first.map { ($0 as NSString).lastPathComponent }) ?? "tool"

    /// Writes raw text to stderr (unbuffered).
    public static func writeError(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }

    /// Writes one line to stderr, prefixed with the tool's name.
    public static func printError(_ s: String) {
        writeError("\(toolName): \(s)\n")
    }

    /// Writes one line to stdout, unbuffered (lines reach a pipe at once, in order with stderr).
    public static func say(_ s: String) {
        let bytes = Array((s + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
    }
}

/// Runs `body`, turning errors into one line on stderr and exit status 1. The library's errors
/// describe themselves with the file (and line or key) they are about.
public func runReporting(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ExitCode {
        throw error
    } catch let error as CleanExit {
        throw error
    } catch let error as ToolError {
        ToolIO.printError(error.message)
        throw ExitCode.failure
    } catch {
        ToolIO.printError("\(error)")
        throw ExitCode.failure
    }
}

/// Writes text to a file atomically, creating its folder.
public func writeText(_ text: String, to path: String) throws {
    let dir = (path as NSString).deletingLastPathComponent
    if !dir.isEmpty { try FileIO.makeDirectories(dir) }
    try FileIO.writeAtomically(path, text: text)
}

/// A progress bar on stderr, drawn only when stderr is a terminal and the work is long enough
/// to notice (redrawn at most 10 times a second), with an optional status text after it.
/// Safe to call from several threads.
public final class ProgressBar: @unchecked Sendable {
    let label: String
    let enabled: Bool
    let lock = NSLock()
    var lastDraw = 0.0
    var drawn = false
    let start = Date()

    public init(label: String, total: Int, minimumTotal: Int = 8, force: Bool = false) {
        self.label = label
        self.enabled = force || (isatty(2) != 0 && total >= minimumTotal)
    }

    /// Seconds since the bar was made.
    public var elapsed: Double { Date().timeIntervalSince(start) }

    public func update(_ done: Int, _ total: Int) { update(done, total, status: "") }

    public func update(_ done: Int, _ total: Int, status: String) {
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        let now = Date().timeIntervalSince(start)
        if done < total && now - lastDraw < 0.1 { return }
        if !drawn && now < 0.3 && done < total { return }
        lastDraw = now
        drawn = true
        let width = 30
        let filled = total > 0 ? width * min(done, total) / total : width
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let tail = status.isEmpty ? String(format: "%.1fs", now) : status
        ToolIO.writeError("\r\u{1B}[2K\(label) [\(bar)] \(done)/\(total) \(tail)")
    }

    /// Ends the bar's line (if one was drawn).
    public func finish() {
        lock.lock()
        defer { lock.unlock() }
        if drawn {
            ToolIO.writeError("\n")
            drawn = false
        }
    }
}
