import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Headless Chromium driven over the DevTools protocol on `--remote-debugging-pipe`: the
/// browser reads NUL-terminated JSON commands on its fd 3 and writes replies and events on its
/// fd 4. One page target is created and attached (flat sessions); console errors, uncaught
/// exceptions and error log entries (a resource that failed to load) are collected.
final class HeadlessChromium {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The first Chromium found: Debian's chromium-headless-shell, then full browsers.
    static func binary() -> String? {
        let candidates = ["/usr/lib/chromium/chromium-headless-shell", "/usr/bin/chromium-headless-shell",
                          "/usr/lib/chromium/headless_shell", "/usr/bin/chromium", "/usr/bin/chromium-browser",
                          "/usr/bin/google-chrome"]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    let pid: pid_t
    private let commands: Int32   // our end of the browser's fd 3
    private let replies: Int32    // our end of the browser's fd 4
    private var buffer: [UInt8] = []
    private var nextId = 0
    private var session: String?
    /// Console errors, exceptions and error log entries, as text.
    private(set) var errors: [String] = []
    private(set) var events: [String] = []

    /// Starts the browser (`--no-sandbox` when root) with its log in `logPath`.
    init(binary: String, profile: String, logPath: String) throws {
        var toBrowser: [Int32] = [0, 0], fromBrowser: [Int32] = [0, 0]
        guard pipe(&toBrowser) == 0, pipe(&fromBrowser) == 0 else { throw Failure(description: "pipe failed") }
        for fd in toBrowser + fromBrowser { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        // Copies at fd >= 10 (close-on-exec), so that dup2 onto 3 and 4 never clobbers its own source.
        let childIn = fcntl(toBrowser[0], F_DUPFD_CLOEXEC, 10), childOut = fcntl(fromBrowser[1], F_DUPFD_CLOEXEC, 10)
        close(toBrowser[0]); close(fromBrowser[1])
        defer { close(childIn); close(childOut) }
        commands = toBrowser[1]
        replies = fromBrowser[0]
        var args = [binary, "--headless", "--remote-debugging-pipe", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
                    "--user-data-dir=" + profile, "--window-size=1200,900", "about:blank"]
        if getuid() == 0 { args.insert("--no-sandbox", at: 1) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, childIn, 3)
        posix_spawn_file_actions_adddup2(&actions, childOut, 4)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = args.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let status = posix_spawn(&child, binary, &actions, nil, argv, environ)
        guard status == 0 else { throw Failure(description: "cannot start \(binary): \(String(cString: strerror(status)))") }
        pid = child
        signal(SIGPIPE, SIG_IGN)   // a browser that died fails the write, not the test process
    }

    private var exited = false

    /// Asks the browser to close and reaps it.
    func shutDown() {
        _ = try? call("Browser.close", browser: true, timeout: 5)
        var status: Int32 = 0
        exited = waitpid(pid, &status, 0) == pid
    }

    deinit {
        close(commands)
        close(replies)
        if !exited {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }

    /// Sends a command (to the page session unless `browser`) and waits for its reply's result.
    @discardableResult
    func call(_ method: String, _ params: [String: Any] = [:], browser: Bool = false, timeout: Double = 20) throws -> [String: Any] {
        nextId += 1
        let id = nextId
        var message: [String: Any] = ["id": id, "method": method, "params": params]
        if !browser, let session { message["sessionId"] = session }
        var bytes = [UInt8](try JSONSerialization.data(withJSONObject: message))
        bytes.append(0)
        let written = bytes.withUnsafeBytes { write(commands, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw Failure(description: "\(method): the browser is gone (write failed)") }
        let reply = try next(timeout: timeout, what: method) { $0["id"] as? Int == id }
        if let error = reply["error"] { throw Failure(description: "\(method): \(error)") }
        return reply["result"] as? [String: Any] ?? [:]
    }

    /// Creates a page, attaches to it and enables the domains whose events are collected.
    func openPage() throws {
        let target = try call("Target.createTarget", ["url": "about:blank"], browser: true)
        guard let targetId = target["targetId"] as? String else { throw Failure(description: "no target id: \(target)") }
        let attached = try call("Target.attachToTarget", ["targetId": targetId, "flatten": true], browser: true)
        session = attached["sessionId"] as? String
        for domain in ["Runtime", "Page", "Log"] { try call(domain + ".enable") }
    }

    /// Navigates and waits for the load event.
    func load(_ url: String) throws {
        try call("Page.navigate", ["url": url])
        _ = try next(timeout: 20, what: "Page.loadEventFired") { $0["method"] as? String == "Page.loadEventFired" }
    }

    /// The value of a JavaScript expression (JSON-compatible values).
    func evaluate(_ expression: String) throws -> Any? {
        let r = try call("Runtime.evaluate", ["expression": expression, "returnByValue": true, "awaitPromise": true])
        if let exception = r["exceptionDetails"] { throw Failure(description: "\(expression): \(exception)") }
        return (r["result"] as? [String: Any])?["value"]
    }

    /// The next message `matches` accepts; every event on the way is recorded.
    private func next(timeout: Double, what: String, _ matches: ([String: Any]) -> Bool) throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            while let end = buffer.firstIndex(of: 0) {
                let data = Data(buffer[..<end])
                buffer.removeSubrange(...end)
                guard let message = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { continue }
                record(message)
                if matches(message) { return message }
            }
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { throw Failure(description: "no \(what) within \(timeout) s") }
            var fd = pollfd(fd: replies, events: Int16(POLLIN), revents: 0)
            let ready = poll(&fd, 1, Int32(left * 1000))
            if ready == 0 { continue }
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            let n = chunk.withUnsafeMutableBytes { read(replies, $0.baseAddress, $0.count) }
            guard n > 0 else { throw Failure(description: "the browser closed its pipe while waiting for \(what)") }
            buffer.append(contentsOf: chunk[..<n])
        }
    }

    private func record(_ message: [String: Any]) {
        guard let method = message["method"] as? String else { return }
        events.append(method)
        let params = message["params"] as? [String: Any] ?? [:]
        switch method {
        case "Runtime.consoleAPICalled" where ["error", "assert", "warning"].contains(params["type"] as? String ?? ""):
            errors.append("console: \(params["args"] ?? "")")
        case "Runtime.exceptionThrown":
            errors.append("exception: \(params["exceptionDetails"] ?? "")")
        case "Log.entryAdded":
            if let entry = params["entry"] as? [String: Any], entry["level"] as? String == "error" {
                errors.append("log: \(entry["text"] ?? "") \(entry["url"] ?? "")")
            }
        default: break
        }
    }
}
