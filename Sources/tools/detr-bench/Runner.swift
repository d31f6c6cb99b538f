import ArgumentParser
import Datasets
import Foundation

/// One timed measurement of a case in its own process.
struct Measurement: Codable {
    var seconds: Double
    var peak_rss_mb: Double
}

/// A benchmark case: a name, our work (run in a child process of detr-bench) and a reference.
struct BenchCase {
    let name: String
    let reference: String
    /// Arguments for scripts/bench/<script> that run the reference on the same input.
    let referenceScript: String
    let referenceArguments: [String]
    /// Prepares the inputs (untimed) and returns the timed work.
    let prepare: () throws -> () throws -> Void

    init(name: String, reference: String, referenceScript: String, referenceArguments: [String],
         prepare: @escaping () throws -> () throws -> Void) {
        self.name = name
        self.reference = reference
        self.referenceScript = referenceScript
        self.referenceArguments = referenceArguments
        self.prepare = prepare
    }

    /// A case whose work needs no untimed preparation; it returns a count of items.
    init(name: String, reference: String, referenceScript: String, referenceArguments: [String],
         work: @escaping () throws -> Int) {
        self.init(name: name, reference: reference, referenceScript: referenceScript,
                  referenceArguments: referenceArguments, prepare: { { _ = try work() } })
    }
}

enum Bench {
    /// Runs `work` once to warm up, then `runs` times; the median wall time and our peak RSS.
    static func measure(runs: Int, _ work: () throws -> Void) throws -> Measurement {
        try work()
        var times: [Double] = []
        for _ in 0..<runs {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try work()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        times.sort()
        let median = times.count % 2 == 1 ? times[times.count / 2] : (times[times.count / 2 - 1] + times[times.count / 2]) / 2
        return Measurement(seconds: median, peak_rss_mb: peakRSSMegabytes())
    }

    /// Peak resident set of this process: VmHWM from /proc/self/status. (getrusage's
    /// ru_maxrss is carried across execve on Linux, so a child would report at least its
    /// parent's size.)
    static func peakRSSMegabytes() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kb = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
            return kb / 1024
        }
        return 0
    }

    static func ownExecutable() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// Runs a command; returns its exit status, stdout, stderr.
    static func run(_ executable: String, _ args: [String]) throws -> (Int32, String, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Read both pipes concurrently so that a chatty child cannot block on a full pipe.
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }

    static func which(_ program: String) -> String? {
        if program.contains("/") { return FileManager.default.isExecutableFile(atPath: program) ? program : nil }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(dir)/\(program)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    static func log(_ s: String) {
        FileHandle.standardError.write(Data((s + "\n").utf8))
    }

    /// Runs every case (ours in a child process, then the reference) and prints the results.
    static func runCases(_ cases: [BenchCase], area: String, options: BenchOptions) throws {
        let selected = cases.filter { options.only == nil || $0.name.contains(options.only!) }
        if !options.json {
            print(pad("case", 24) + pad("ours (s)", 11) + pad("reference", 22) + pad("ref (s)", 11) + pad("ratio", 8) + pad("RSS MB", 9) + "ref RSS MB")
        }
        for c in selected {
            let (status, out, err) = try run(ownExecutable(), ["run-case", area, c.name, "--runs", String(options.runs), "--data", options.data])
            guard status == 0, let ours = try? JSONDecoder().decode(Measurement.self, from: Data(out.utf8)) else {
                log("\(c.name): our case failed: \(err.trimmingCharacters(in: .whitespacesAndNewlines))")
                continue
            }
            var ref: Measurement? = nil
            let script = options.scripts + "/" + c.referenceScript
            if let python = which(options.python), FileManager.default.fileExists(atPath: script) {
                let (rs, rout, rerr) = try run(python, [script] + c.referenceArguments + ["--runs", String(options.runs)])
                if rs == 0, let m = try? JSONDecoder().decode(Measurement.self, from: Data(rout.utf8)) {
                    ref = m
                } else {
                    log("\(c.name): reference \(c.reference) could not run: \(rerr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").last ?? "exit \(rs)")")
                }
            } else {
                log("\(c.name): reference \(c.reference) could not run: \(options.python) or \(script) not found")
            }
            let ratio = ref.map { $0.seconds / ours.seconds }
            if options.json {
                func num(_ v: Double?, _ digits: Int = 6) -> String { v.map { String(format: "%.\(digits)g", $0) } ?? "null" }
                print("{\"case\": \"\(c.name)\", \"ours_s\": \(num(ours.seconds)), \"ref\": \"\(c.reference)\", \"ref_s\": \(num(ref?.seconds)), \"ratio\": \(num(ratio, 4)), \"peak_rss_mb\": \(num(ours.peak_rss_mb, 5)), \"ref_peak_rss_mb\": \(num(ref?.peak_rss_mb, 5))}")
            } else {
                func f(_ v: Double?, _ fmt: String) -> String { v.map { String(format: fmt, $0) } ?? "-" }
                print(pad(c.name, 24) + pad(f(ours.seconds, "%.4f"), 11) + pad(c.reference, 22) + pad(f(ref?.seconds, "%.4f"), 11)
                      + pad(f(ratio, "%.2f"), 8) + pad(f(ours.peak_rss_mb, "%.0f"), 9) + f(ref?.peak_rss_mb, "%.0f"))
            }
        }
    }

    static func pad(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(1, w - s.count)) }
}
