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
