import Datasets
import Foundation
import Pipeline
import TestSupport
import XCTest

/// The practitioner's loop with the four tools on a tiny generated data set:
/// voc-annotation, detr-train, get-map, predict (a tiny network, two epochs: seconds).
final class EndToEndToolTests: XCTestCase {
    func testWholeLoop() throws {
        let dir = try makeTemporaryDirectory("e2e")

        try makeShapesLists(in: dir, images: 16, minSide: 64, maxSide: 80, seed: 3)
        let tiny = ["--classes", "classes.txt", "--backbone", "resnet18", "--input-size", "64", "--d-model", "32", "--heads", "4",
                    "--enc-layers", "1", "--dec-layers", "1", "--ffn", "64", "--queries", "8", "--batch", "4", "--workers", "1",
                    "--eval-period", "1", "--save-period", "1"]
        var r = try ToolRunner.run("detr-train", ["2007_train.txt", "--val", "2007_val.txt", "--epochs", "2"] + tiny, in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        // One summary line per epoch, with the losses and the evaluation.
        let epochs = r.lines.filter { $0.hasPrefix("Epoch ") }
        XCTAssertEqual(epochs.count, 2, r.stdout)
        XCTAssertTrue(epochs[1].hasPrefix("Epoch 2/2 - loss ") && epochs[1].contains("val_loss") && epochs[1].contains("AP50"), epochs[1])
        for f in ["model.safetensors", "optimizer.safetensors", "state.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(dir)/logs/best/\(f)"), f)
        }

        // Resume: one more epoch in the same run folder.
        r = try ToolRunner.run("detr-train", ["--resume", "logs/last", "--epochs", "3"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("Epoch 3/3 - loss"), r.stdout)
        let runs = try FileManager.default.contentsOfDirectory(atPath: dir + "/logs").filter { $0.hasPrefix("20") }
        XCTAssertEqual(runs.count, 1, "\(runs)")
        let losses = try String(contentsOfFile: "\(dir)/logs/\(runs[0])/epoch_loss.txt", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(losses.count, 3)

        r = try ToolRunner.run("get-map", ["logs/best", "--devkit", "VOCdevkit", "--mode", "0", "--no-plots"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        let mapLine = try XCTUnwrap(r.lines.last(where: { $0.hasPrefix("mAP@0.50 = ") }), r.stdout)
        let value = try XCTUnwrap(Double(mapLine.dropFirst("mAP@0.50 = ".count)))
        XCTAssertTrue((0...1).contains(value))
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/map_out/results/results.txt"))

        let testIDs = try String(contentsOfFile: dir + "/VOCdevkit/VOC2007/ImageSets/Main/test.txt", encoding: .utf8)
            .split(separator: "\n").map(String.init)
        try FileManager.default.createDirectory(atPath: dir + "/test_images", withIntermediateDirectories: true)
        for id in testIDs {
            try FileManager.default.copyItem(atPath: "\(dir)/VOCdevkit/VOC2007/JPEGImages/\(id).jpg", toPath: "\(dir)/test_images/\(id).jpg")
        }
        r = try ToolRunner.run("predict", ["test_images", "--weights", "logs/best", "--out", "img_out", "--confidence", "0.05"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        for id in testIDs {
            let drawn = try ImageIO.load("\(dir)/img_out/\(id).png")
            let original = try ImageIO.load("\(dir)/test_images/\(id).jpg")
            XCTAssertEqual(drawn.width, original.width)
            XCTAssertEqual(drawn.height, original.height)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/img_out/detections.json"))
    }

    /// detr-train's bad inputs: each a clear one-line error naming the file, exit status 1.
    func testTrainBadInputs() throws {
        let dir = try makeTemporaryDirectory("e2e-bad")
        try "a\nb\n".write(toFile: dir + "/classes.txt", atomically: true, encoding: .utf8)
        var r = try ToolRunner.run("detr-train", ["missing.txt", "--classes", "classes.txt"], in: dir)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.hasPrefix("detr-train: ") && r.stderr.contains("missing.txt"), r.stderr)
        r = try ToolRunner.run("detr-train", ["missing.txt", "--classes", "nope.txt"], in: dir)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("nope.txt"), r.stderr)
        r = try ToolRunner.run("detr-train", ["--resume", "logs/last"], in: dir)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("logs/last"), r.stderr)
        try "x.jpg 1,2,3\n".write(toFile: dir + "/bad.txt", atomically: true, encoding: .utf8)
        r = try ToolRunner.run("detr-train", ["bad.txt", "--classes", "classes.txt"], in: dir)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("bad.txt:1:"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
    }
}
