import Augment
import Datasets
import Foundation
import NN
import Pipeline
import Tensor
import TestSupport
import XCTest

/// detr-train on two processes (Open MPI's mpirun, one compute thread each) against one
/// process: the same seed and global batch give the same training, step for step. The tiny
/// network trains its backbone from scratch (trainable batch norms, synchronised across the
/// processes), with dropout, on images of mixed sizes, with a validation set (sharded loss and
/// COCO AP, gathered). Skips, saying so, when mpirun is not installed.
final class DataParallelToolTests: XCTestCase {
    static let tolerance = 1e-5
    static func flags(batch: Int = 4) -> [String] { common + ["--batch", "\(batch)"] }
    static let common = ["2007_train.txt", "--val", "2007_val.txt", "--classes", "classes.txt", "--backbone", "resnet18",
                        "--backbone-stages", "3", "--input-size", "48", "--d-model", "32", "--heads", "4", "--enc-layers", "1",
                        "--dec-layers", "2", "--ffn", "64", "--queries", "8", "--dropout", "0.1", "--epochs", "2",
                        "--optimizer", "sgd", "--lr", "0.02", "--backbone-lr-ratio", "1", "--schedule", "constant",
                        "--eval-period", "1", "--save-period", "1", "--workers", "0", "--threads", "1", "--seed", "11"]

    /// mpirun's path, or a skip.
    static func mpirun() throws -> String {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(dir)/mpirun"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw XCTSkip("mpirun is not installed (Debian: openmpi-bin); the data-parallel training is not tested")
    }

    /// `mpirun -np n detr-train args` in `dir`: one thread per process, on this machine.
    func runOnProcesses(_ n: Int, _ args: [String], in dir: String) throws -> ToolRunner.Result {
        let mpirun = try Self.mpirun()
        var launcher = ["-np", "\(n)", "--oversubscribe", "--bind-to", "none", "--mca", "btl_vader_single_copy_mechanism", "none",
                        "-x", "OMP_NUM_THREADS=1"]
        if getuid() == 0 { launcher.append("--allow-run-as-root") }
        return try ToolRunner.runProgram(mpirun, launcher + [ToolRunner.binDirectory + "/detr-train"] + args, in: dir)
    }

    static func norm(_ t: [Float]) -> Double { t.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() }

    /// The largest per-tensor ||a - b|| / max(||a||, normFloor) over two checkpoints' weights and buffers.
    static func largestRelativeDifference(_ a: [String: Tensor], _ b: [String: Tensor], normFloor: Double = 1e-12) -> (key: String, value: Double) {
        var worst = ("", 0.0)
        for (k, ta) in a {
            guard let tb = b[k], tb.shape == ta.shape else { return (k + " (missing or another shape)", .infinity) }
            let x = ta.scalars, y = tb.scalars
            let d = Self.norm(zip(x, y).map { $0 - $1 }) / max(Self.norm(x), normFloor)
            if !(d <= worst.1) { worst = (k, d) }
        }
        return worst
    }

    static func numbers(_ file: String) throws -> [Double] {
        try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").compactMap { Double($0) }
    }

    func testTwoProcesses_TrainWhatOneProcessTrains() throws {
        _ = try Self.mpirun()
        let dir = try makeTemporaryDirectory("mpi")
        try makeShapesLists(in: dir, images: 16, minSide: 64, maxSide: 96, seed: 7)
        let single = try ToolRunner.run("detr-train", Self.flags() + ["--save-dir", "single"], in: dir)
        XCTAssertEqual(single.status, 0, single.stderr)
        let multi = try runOnProcesses(2, Self.flags() + ["--save-dir", "multi"], in: dir)
        XCTAssertEqual(multi.status, 0, multi.stdout + multi.stderr)
        XCTAssertTrue(multi.stdout.contains("2 processes (mpirun)"), multi.stdout)

        let fm = FileManager.default
        let runA = "\(dir)/single/" + (try fm.destinationOfSymbolicLink(atPath: dir + "/single/last")).components(separatedBy: "/")[0]
        let runB = "\(dir)/multi/" + (try fm.destinationOfSymbolicLink(atPath: dir + "/multi/last")).components(separatedBy: "/")[0]
        // Rank 0 alone wrote: one run folder.
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: dir + "/multi").filter { !["best", "last"].contains($0) }.count, 1)

        let a = try Checkpoint.load(from: dir + "/single/last"), b = try Checkpoint.load(from: dir + "/multi/last")
        let worst = Self.largestRelativeDifference(a.model, b.model)
        XCTAssertLessThanOrEqual(worst.value, Self.tolerance, "weights differ most at \(worst.key)")
        let worstOptimizer = Self.largestRelativeDifference(a.optimizer ?? [:], b.optimizer ?? [:])
        XCTAssertLessThanOrEqual(worstOptimizer.value, Self.tolerance, "optimizer state differs most at \(worstOptimizer.key)")
        // The tolerance tells runs apart: the second epoch moved some tensor far more than it.
        let first = try Checkpoint.load(from: runA + "/" + (try fm.contentsOfDirectory(atPath: runA).first { $0.hasPrefix("ep001") } ?? "ep001"))
        XCTAssertGreaterThan(Self.largestRelativeDifference(first.model, a.model).value, 100 * Self.tolerance)

        try assertSameLogs(runA, runB)

        // --resume under mpirun: the 2-process run continued from its epoch-1 checkpoint ends
        // where the single process ended, and logs epoch 2 once.
        let ep1 = try fm.contentsOfDirectory(atPath: runB).first { $0.hasPrefix("ep001") } ?? "ep001"
        let resumed = try runOnProcesses(2, ["--resume", runB + "/" + ep1], in: dir)
        XCTAssertEqual(resumed.status, 0, resumed.stdout + resumed.stderr)
        let c = try Checkpoint.load(from: dir + "/multi/last")
        let worstResumed = Self.largestRelativeDifference(a.model, c.model)
        XCTAssertLessThanOrEqual(worstResumed.value, Self.tolerance, "resumed weights differ most at \(worstResumed.key)")
        try assertSameLogs(runA, runB)
    }

    /// Mask2Former on two processes (the semantic task on a VOC devkit's lines): its criterion's
    /// global normalisers and the target masks padded to the global batch's shape let it train,
    /// and the mIoU it logs (each process segments its share of the validation images, their
    /// confusions summed) is the mIoU of the saved weights computed here in one process (up to
    /// inference rounding between thread counts). A data-parallel Mask2Former run draws its own
    /// points per process, so it is not compared with a one-process run step for step.
    func testMask2FormerOnTwoProcesses_LogsTheMIoUOfItsWeights() throws {
        _ = try Self.mpirun()
        let dir = try makeTemporaryDirectory("mpi-m2f")
        let summary = try makeSegmentationDemo(images: 10, minSide: 64, maxSide: 80, seed: 8)
        let kit = VOCDevkit(root: summary.devkit)
        for set in ["train", "val"] {
            let lines = try kit.readImageSet(set, from: .segmentation).map {
                AnnotationLine(imagePath: FileIO.join(kit.imagesDirectory, $0 + ".jpg"), boxes: [])
            }
            try AnnotationLines.write(lines, to: dir + "/\(set).txt")
        }
        let flags = ["train.txt", "--val", "val.txt", "--classes", summary.classesFile, "--model", "mask2former", "--task", "semantic",
                     "--backbone", "resnet18", "--d-model", "32", "--heads", "4", "--enc-layers", "1", "--dec-layers", "3",
                     "--ffn", "64", "--queries", "8", "--mask-points", "256", "--input-size", "64", "--preset", "flip", "--batch", "4",
                     "--epochs", "1", "--lr", "2e-4", "--schedule", "constant", "--eval-period", "1", "--workers", "0",
                     "--threads", "1", "--seed", "3"]
        let multi = try runOnProcesses(2, flags, in: dir)
        XCTAssertEqual(multi.status, 0, multi.stdout + multi.stderr)
        XCTAssertTrue(multi.stdout.contains("2 processes (mpirun)"), multi.stdout)
        let run = dir + "/logs/" + (try FileManager.default.destinationOfSymbolicLink(atPath: dir + "/logs/last")).components(separatedBy: "/")[0]
        let line = try String(contentsOfFile: run + "/epochs.jsonl", encoding: .utf8)
        let record = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let logged = try XCTUnwrap(record["miou"] as? Double)
        XCTAssertTrue((record["train_loss"] as? Double).map(\.isFinite) ?? false, line)

        let bundle = try ModelBundle.load(dir + "/logs/last")
        let ids = try kit.readImageSet("val", from: .segmentation)
        let miou = try Validation.meanIoU(bundle: bundle, dataset: VOCSemanticDataset(devkit: kit, ids: ids, classCount: 4), classCount: 4)
        XCTAssertGreaterThan(miou, 0, "a weak check: no class is found anywhere")
        XCTAssertEqual(logged, miou, accuracy: 1e-3)
    }

    /// The same logs: training loss, validation loss and COCO AP50 of both epochs.
    func assertSameLogs(_ runA: String, _ runB: String, file: StaticString = #filePath, line: UInt = #line) throws {
        for name in ["epoch_loss.txt", "epoch_val_loss.txt", "epoch_map.txt"] {
            let x = try Self.numbers("\(runA)/\(name)"), y = try Self.numbers("\(runB)/\(name)")
            XCTAssertEqual(x.count, 2, name, file: file, line: line)
            XCTAssertEqual(x.count, y.count, name, file: file, line: line)
            for (u, v) in zip(x, y) {
                XCTAssertEqual(u, v, accuracy: 1e-5 * max(1, abs(u)) + 2e-6, "\(name): \(x) vs \(y)", file: file, line: line)
            }
        }
    }

    /// Conditional DETR with 2 Group DETR query groups (sigmoid focal loss; the groups folded
    /// into the attention's batch, whose dropout masks are drawn per sample), no validation set.
    func testConditionalDETRWithQueryGroups_TwoProcessesTrainWhatOneProcessTrains() throws {
        _ = try Self.mpirun()
        let dir = try makeTemporaryDirectory("mpi-groups")
        try makeShapesLists(in: dir, images: 12, minSide: 64, maxSide: 96, seed: 8)
        let flags = Array(Self.flags().drop { $0 != "--classes" }) + ["2007_train.txt", "--model", "conditional-detr", "--groups", "2"]
        let single = try ToolRunner.run("detr-train", flags + ["--save-dir", "single"], in: dir)
        XCTAssertEqual(single.status, 0, single.stderr)
        let multi = try runOnProcesses(2, flags + ["--save-dir", "multi"], in: dir)
        XCTAssertEqual(multi.status, 0, multi.stdout + multi.stderr)
        // Tensors of norm below 1e-2 are held to 1e-7 absolute: here four batch-norm biases
        // of the stem and layer1 (zero at the start, norm about 2e-5 after the 4 steps) differ
        // by 3e-8 (a relative 1e-3) while every other tensor agrees to 3e-6. Only the layers
        // at and after the stem's max pooling differ so, so the likely cause (not verified) is
        // the pooling choosing differently between values equal up to the last bits of the
        // synchronised statistics.
        let a = try Checkpoint.load(from: dir + "/single/last"), b = try Checkpoint.load(from: dir + "/multi/last")
        let worst = Self.largestRelativeDifference(a.model, b.model, normFloor: 1e-2)
        XCTAssertLessThanOrEqual(worst.value, Self.tolerance, "weights differ most at \(worst.key)")
        let fm = FileManager.default
        let runs = try ["single", "multi"].map { "\(dir)/\($0)/" + (try fm.destinationOfSymbolicLink(atPath: "\(dir)/\($0)/last")).components(separatedBy: "/")[0] }
        let x = try Self.numbers(runs[0] + "/epoch_loss.txt"), y = try Self.numbers(runs[1] + "/epoch_loss.txt")
        XCTAssertEqual(x.count, 2)
        XCTAssertEqual(x.count, y.count)
        for (u, v) in zip(x, y) { XCTAssertEqual(u, v, accuracy: 1e-5 * max(1, abs(u)) + 2e-6, "\(x) vs \(y)") }
    }

    /// A global batch that does not divide into the processes: one clear error, the job stops.
    func testBatchNotDivisibleByTheProcesses_IsAnError() throws {
        _ = try Self.mpirun()
        let dir = try makeTemporaryDirectory("mpi-batch")
        try makeShapesLists(in: dir, images: 8, minSide: 64, maxSide: 64, seed: 7)
        let r = try runOnProcesses(2, Self.flags(batch: 3) + ["--save-dir", "multi"], in: dir)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--batch 3 (the global batch) is not divisible by the 2 processes"), r.stderr)
        XCTAssertTrue(r.stderr.contains("rank 0 of 2") || r.stderr.contains("rank 1 of 2"), r.stderr)
    }
}
