import Foundation
import NN
import Pipeline
import TestSupport
import XCTest

/// detr-train interrupted for real: killed with SIGKILL while it writes a checkpoint, and
/// stopped by a checkpoint write that fails half-way (the file size limit, as a full disk).
/// The smallest network that trains (TinyConfig's sizes on 3 ResNet-18 stages, 32 px): seconds.
final class InterruptedTrainingToolTests: XCTestCase {
    static let tiny = ["--classes", "classes.txt", "--backbone", "resnet18", "--backbone-stages", "3", "--input-size", "32",
                       "--d-model", "32", "--heads", "4", "--enc-layers", "1", "--dec-layers", "1", "--ffn", "64",
                       "--queries", "8", "--batch", "2", "--workers", "0", "--seed", "3"]

    func assertSameWeights(_ a: String, _ b: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let wa = try Checkpoint.load(from: a), wb = try Checkpoint.load(from: b)
        XCTAssertEqual(Set(wa.model.keys), Set(wb.model.keys), file: file, line: line)
        for (k, t) in wa.model where t.scalars != wb.model[k]?.scalars { XCTFail("\(k) differs", file: file, line: line) }
        for (k, t) in wa.optimizer ?? [:] where t.scalars != wb.optimizer?[k]?.scalars { XCTFail("optimizer \(k) differs", file: file, line: line) }
    }

    /// Killed (SIGKILL) while it writes its epoch-2 checkpoint: logs/last stays loadable, and
    /// --resume ends with the weights, optimizer state and loss log of an uninterrupted run.
    func testSIGKILLDuringCheckpointWrite_ResumeIsBitIdentical() throws {
        let dir = try makeTemporaryDirectory("kill")
        try makeShapesLists(in: dir, images: 6, minSide: 64, maxSide: 64, seed: 5)
        let whole = try ToolRunner.run("detr-train", ["2007_train.txt", "--epochs", "3", "--save-dir", "whole"] + Self.tiny, in: dir)
        XCTAssertEqual(whole.status, 0, whole.stderr)

        let p = Process()
        p.executableURL = URL(fileURLWithPath: ToolRunner.binDirectory + "/detr-train")
        p.arguments = ["2007_train.txt", "--epochs", "3"] + Self.tiny
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        // After the first checkpoint, kill as soon as a checkpoint's temporary folder appears.
        let fm = FileManager.default
        let deadline = Date().addingTimeInterval(120)
        while !fm.fileExists(atPath: dir + "/logs/last/state.json") && Date() < deadline && p.isRunning { usleep(10_000) }
        let run = try fm.destinationOfSymbolicLink(atPath: dir + "/logs/last").components(separatedBy: "/")[0]
        var sawWrite = false
        while !sawWrite && Date() < deadline && p.isRunning {
            sawWrite = (try? fm.contentsOfDirectory(atPath: "\(dir)/logs/\(run)"))?.contains { $0.hasPrefix(".") && $0.contains(".tmp-") } ?? false
            if !sawWrite { usleep(500) }
        }
        XCTAssertTrue(p.isRunning, "the run ended before it could be killed")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal)
        XCTAssertTrue(sawWrite, "killed without seeing a checkpoint being written")

        let bundle = try ModelBundle.load(dir + "/logs/last")
        XCTAssertTrue((1...2).contains(bundle.state.epoch), "\(bundle.state.epoch)")
        let r = try ToolRunner.run("detr-train", ["--resume", "logs/last"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        try assertSameWeights(dir + "/whole/last", dir + "/logs/last")
        // The epoch logged before the kill and trained again is logged once.
        let wholeRun = try fm.destinationOfSymbolicLink(atPath: dir + "/whole/last").components(separatedBy: "/")[0]
        XCTAssertEqual(try String(contentsOfFile: "\(dir)/logs/\(run)/epoch_loss.txt", encoding: .utf8),
                       try String(contentsOfFile: "\(dir)/whole/\(wholeRun)/epoch_loss.txt", encoding: .utf8))
    }

    /// A checkpoint write that fails half-way (RLIMIT_FSIZE below the model file's size): one
    /// line naming the checkpoint file and the system's reason, exit 1, the previous checkpoint
    /// byte-for-byte intact, no temporary files left; a resume with room continues from it.
    /// The run folder's path holds a space.
    func testCheckpointWriteFailure_KeepsThePreviousCheckpoint() throws {
        let dir = try makeTemporaryDirectory("fsize")
        try makeShapesLists(in: dir, images: 6, minSide: 64, maxSide: 64, seed: 5)
        var r = try ToolRunner.run("detr-train", ["2007_train.txt", "--epochs", "1", "--save-dir", "run logs"] + Self.tiny, in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        let names = [Checkpoint.modelFile, Checkpoint.optimizerFile, Checkpoint.stateFile]
        let before = try names.map { try Data(contentsOf: URL(fileURLWithPath: "\(dir)/run logs/last/\($0)")) }
        let run = try FileManager.default.destinationOfSymbolicLink(atPath: dir + "/run logs/last").components(separatedBy: "/")[0]

        // model.safetensors is about 11 MB: the limit lets the logs through and stops it half-way.
        r = try ToolRunner.run("detr-train", ["--resume", "run logs/last", "--epochs", "2"], in: dir, fileSizeLimitKiB: 4096)
        XCTAssertEqual(r.status, 1, r.stdout)
        let lines = r.stderr.split(separator: "\n").filter { $0.hasPrefix("detr-train: ") && !$0.contains("resuming") }
        XCTAssertEqual(lines.count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("/\(run)/") && r.stderr.contains(Checkpoint.modelFile + ": cannot write")
                      && r.stderr.contains("File too large") && !r.stderr.contains(".tmp-"), r.stderr)
        let after = try names.map { try Data(contentsOf: URL(fileURLWithPath: "\(dir)/run logs/last/\($0)")) }
        XCTAssertEqual(before, after, "the previous checkpoint changed")
        let left = try FileManager.default.contentsOfDirectory(atPath: "\(dir)/run logs/\(run)").filter { $0.contains(".tmp-") }
        XCTAssertEqual(left, [])

        r = try ToolRunner.run("detr-train", ["--resume", "run logs/last", "--epochs", "2"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try ModelBundle.load(dir + "/run logs/last").state.epoch, 2)
        let losses = try String(contentsOfFile: "\(dir)/run logs/\(run)/epoch_loss.txt", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(losses.count, 2, "\(losses)")
    }
}
