import Foundation
#if canImport(Glibc)
import Glibc
#endif

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
