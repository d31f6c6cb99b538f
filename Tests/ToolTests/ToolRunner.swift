import Foundation
import XCTest

/// Runs the package's executables (built next to the test bundle) and collects their output.
enum ToolRunner {
    static let binDirectory: String = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent().path
    }()

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
        var lines: [String] { stdout.split(separator: "\n").map(String.init) }
        /// The last non-empty line of stdout ("" when there is none).
        var lastLine: String { lines.last ?? "" }
    }

    /// Runs `tool args` in `dir` (the test's own working directory when nil); stdout and
    /// stderr go to files (no pipe can fill up and block). `fileSizeLimitKiB` runs it under
    /// `ulimit -f` (RLIMIT_FSIZE) with SIGXFSZ ignored: a write past the limit fails with
    /// EFBIG, as on a full disk.
    static func run(_ tool: String, _ args: [String], in dir: String? = nil, fileSizeLimitKiB: Int? = nil) throws -> Result {
        if let kib = fileSizeLimitKiB {
            return try runProgram("/bin/bash", ["-c", "ulimit -f \(kib) && trap '' XFSZ && exec \"$0\" \"$@\"", binDirectory + "/" + tool] + args,
                                  in: dir)
        }
        return try runProgram(binDirectory + "/" + tool, args, in: dir)
    }

    /// Runs the program at `path` (a launcher such as mpirun) the same way.
    static func runProgram(_ path: String, _ args: [String], in dir: String? = nil) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        if let dir { p.currentDirectoryURL = URL(fileURLWithPath: dir) }
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("tool-\(UUID().uuidString)")
        let outURL = tmp.appendingPathExtension("out"), errURL = tmp.appendingPathExtension("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        p.standardOutput = out
        p.standardError = err
        try p.run()
        p.waitUntilExit()
        try out.close()
        try err.close()
        return Result(status: p.terminationStatus,
                      stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
                      stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
    }
}

extension XCTestCase {
    /// A generated shapes VOCdevkit in `dir` (demo-data), split and listed by voc-annotation
    /// (2007_train.txt, 2007_val.txt, classes.txt).
    func makeShapesLists(in dir: String, images: Int, minSide: Int, maxSide: Int, seed: Int) throws {
        var r = try ToolRunner.run("demo-data", ["--output", ".", "--images", "\(images)", "--min-side", "\(minSide)",
                                                 "--max-side", "\(maxSide)", "--seed", "\(seed)"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try ToolRunner.run("voc-annotation", ["VOCdevkit", "--classes", "classes.txt", "--seed", "\(seed)"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
    }
}
