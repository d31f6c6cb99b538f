import Datasets
import Eval
import Foundation
import TestSupport
import XCTest

/// `get-map semantic` on tiny label PNGs written here: its printed and JSON numbers are the
/// library's (SemanticConfusion, checked against NumPy in EvalTests), and bad folders end it
/// with one line naming the file.
final class GetMapSemanticToolTests: XCTestCase {
    /// Three images of 4 classes with void pixels (seeded), ground truth as VOC palette PNGs and
    /// predictions as gray PNGs, and the library's confusion of them.
    func writeMaps(in dir: String) throws -> SemanticConfusion {
        try FileIO.makeDirectories(dir + "/gt")
        try FileIO.makeDirectories(dir + "/pred")
        var state: UInt64 = 16
        func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(n))
        }
        var m = SemanticConfusion(classCount: 4)
        for (i, (w, h)) in [(7, 5), (4, 9), (6, 6)].enumerated() {
            let gt = (0..<(w * h)).map { _ in next(10) == 0 ? UInt8(255) : UInt8(next(3)) }  // class 3 never in gt
            let pred = gt.map { g in next(3) == 0 || g == 255 ? UInt8(next(4)) : g }
            try ImageIO.saveIndexed(IndexedImage(width: w, height: h, indices: gt, palette: IndexedImage.vocPalette), to: dir + "/gt/\(i).png")
            try ImageIO.saveIndexed(IndexedImage(width: w, height: h, indices: pred), to: dir + "/pred/\(i).png")
            try m.add(groundTruth: gt, prediction: pred, width: w, image: "\(i)")
        }
        try "background\ncircle\nsquare\ntriangle\n".write(toFile: dir + "/classes.txt", atomically: true, encoding: .utf8)
        return m
    }

    func testSemantic_PrintsAndWritesTheLibrarysNumbers() throws {
        let dir = try makeTemporaryDirectory("get-map-semantic")
        let r0 = try writeMaps(in: dir).result
        let r = try ToolRunner.run("get-map", ["semantic", "--gt", "gt", "--pred", "pred", "--classes", "classes.txt", "--json", "out.json"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        func pct(_ v: Double) -> String { String(format: "%.2f", 100 * v) }
        XCTAssertTrue(r.lines.contains("mIoU = \(pct(r0.meanIoU))"), r.stdout)
        XCTAssertTrue(r.lines.contains("aAcc = \(pct(r0.pixelAccuracy))"), r.stdout)
        XCTAssertTrue(r.lines.contains("mAcc = \(pct(r0.meanAccuracy))"), r.stdout)
        // The class never in the ground truth: no accuracy, named from the classes file.
        XCTAssertTrue(r.lines.contains { $0.hasPrefix("triangle") && $0.contains("nan") }, r.stdout)
        XCTAssertTrue(r0.perClass[3].accuracy.isNaN && r0.perClass[3].predictedPixels > 0)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/out.json"))) as! [String: Any]
        for (key, value) in [("mIoU", r0.meanIoU), ("aAcc", r0.pixelAccuracy), ("mAcc", r0.meanAccuracy), ("fwIoU", r0.frequencyWeightedIoU)] {
            XCTAssertEqual((json[key] as! NSNumber).doubleValue, value, accuracy: 1e-12, key)
        }
        let perClass = json["per_class"] as! [String: [String: Any]]
        for (i, name) in ["background", "circle", "square", "triangle"].enumerated() {
            XCTAssertEqual((perClass[name]!["iou"] as! NSNumber).doubleValue, r0.perClass[i].iou, accuracy: 1e-12, name)
            XCTAssertEqual((perClass[name]!["gt_pixels"] as! NSNumber).intValue, r0.perClass[i].groundTruthPixels, name)
        }
        XCTAssertTrue(perClass["triangle"]!["acc"] is NSNull)
        XCTAssertEqual(json["n_images"] as? Int, 3)
        // One thread gives the same file; --num-classes names classes by index.
        let one = try ToolRunner.run("get-map", ["semantic", "--gt", "gt", "--pred", "pred", "--num-classes", "4", "--threads", "1", "--json", "one.json"], in: dir)
        XCTAssertEqual(one.status, 0, one.stderr)
        XCTAssertEqual(try String(contentsOfFile: dir + "/one.json", encoding: .utf8),
                       r0.jsonText(classNames: []))
    }

    func testSemantic_BadInputs_NameTheFile() throws {
        let dir = try makeTemporaryDirectory("get-map-semantic-bad")
        _ = try writeMaps(in: dir)
        func run(_ extra: [String] = []) throws -> ToolRunner.Result {
            try ToolRunner.run("get-map", ["semantic", "--gt", "gt", "--pred", "pred"] + extra, in: dir)
        }
        // No class count at all.
        var r = try run()
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--classes FILE or --num-classes N"), r.stderr)
        // A prediction out of range.
        try ImageIO.saveIndexed(IndexedImage(width: 7, height: 5, indices: [UInt8](repeating: 9, count: 35)), to: dir + "/pred/0.png")
        r = try run(["--num-classes", "4"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("pred/0.png: predicted label 9 at (x 0, y 0)"), r.stderr)
        // A size mismatch.
        try ImageIO.saveIndexed(IndexedImage(width: 5, height: 7, indices: [UInt8](repeating: 0, count: 35)), to: dir + "/pred/0.png")
        r = try run(["--num-classes", "4"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("pred/0.png: the prediction is 5x7, the ground truth 7x5"), r.stderr)
        // A ground-truth label that is neither a class nor void.
        try ImageIO.saveIndexed(IndexedImage(width: 7, height: 5, indices: [UInt8](repeating: 0, count: 35)), to: dir + "/pred/0.png")
        var labels = [UInt8](repeating: 1, count: 35)
        labels[9] = 7
        try ImageIO.saveIndexed(IndexedImage(width: 7, height: 5, indices: labels, palette: IndexedImage.vocPalette), to: dir + "/gt/0.png")
        r = try run(["--num-classes", "4"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("gt/0.png: ground-truth label 7 at (x 2, y 1) is neither a class (0 to 3) nor void (255)"), r.stderr)
        // A missing prediction.
        try FileManager.default.removeItem(atPath: dir + "/pred/0.png")
        r = try run(["--num-classes", "4"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("pred/0.png: no such prediction (for the ground truth gt/0.png)"), r.stderr)
        // An RGB PNG is not a label map.
        try FileIO.writeAtomically(dir + "/pred/0.png",
                                   bytes: try ImageIO.encodePNG(pixels: [UInt8](repeating: 0, count: 7 * 5 * 3), width: 7, height: 5, channels: 3))
        r = try run(["--num-classes", "4"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("pred/0.png"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
    }
}
