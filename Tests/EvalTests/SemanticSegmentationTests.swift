import Datasets
import Eval
import Foundation
import TestSupport
import XCTest

/// mIoU and the other semantic-segmentation metrics against NumPy
/// (scripts/fixtures/semantic_reference.py, mmsegmentation's intersect_and_union), and the
/// errors naming the image.
final class SemanticSegmentationTests: XCTestCase {
    struct Reference {
        var classes: Int
        var ignore: Int
        var images: [(width: Int, gt: [Int], pred: [Int])]
        var root: [String: Any]
    }

    func reference() throws -> Reference {
        let root = try FixtureJSON.load("semantic_reference.json") as! [String: Any]
        func ints(_ v: Any?) -> [Int] { (v as! [Any]).map { ($0 as! NSNumber).intValue } }
        let images = (root["images"] as! [[String: Any]]).map {
            (width: ($0["width"] as! NSNumber).intValue, gt: ints($0["gt"]), pred: ints($0["pred"]))
        }
        return Reference(classes: (root["classes"] as! NSNumber).intValue, ignore: (root["ignore_index"] as! NSNumber).intValue,
                         images: images, root: root)
    }

    func assertMatches(_ m: SemanticConfusion, _ ref: Reference, _ label: String) {
        let root = ref.root
        XCTAssertEqual(m.counts, (root["confusion"] as! [Any]).map { ($0 as! NSNumber).intValue }, label)
        let r = m.result
        func number(_ v: Any) -> Double { (v as? NSNumber)?.doubleValue ?? .nan }
        for (key, ours) in [("iou", r.perClass.map(\.iou)), ("acc", r.perClass.map(\.accuracy))] {
            let expected = (root[key] as! [Any]).map(number)
            XCTAssertEqual(ours.count, expected.count)
            for (i, (a, b)) in zip(ours, expected).enumerated() {
                if b.isNaN { XCTAssertTrue(a.isNaN, "\(label) \(key)[\(i)] = \(a), NumPy NaN") } else {
                    XCTAssertEqual(a, b, accuracy: 1e-12, "\(label) \(key)[\(i)]")
                }
            }
        }
        for (key, ours) in [("mIoU", r.meanIoU), ("mAcc", r.meanAccuracy), ("aAcc", r.pixelAccuracy), ("fwIoU", r.frequencyWeightedIoU)] {
            XCTAssertEqual(ours, number(root[key]!), accuracy: 1e-12, "\(label) \(key)")
        }
        XCTAssertEqual(r.imageCount, ref.images.count)
    }

    func testUInt8Maps_MatchNumPy() throws {
        let ref = try reference()
        var m = SemanticConfusion(classCount: ref.classes, ignoreIndex: ref.ignore)
        for (i, im) in ref.images.enumerated() {
            try m.add(groundTruth: im.gt.map(UInt8.init), prediction: im.pred.map(UInt8.init), width: im.width, image: "image \(i)")
        }
        assertMatches(m, ref, "UInt8")
        // The fixture holds the cases the means must leave out: a class only predicted (IoU 0,
        // no accuracy), one never predicted, one in neither.
        XCTAssertTrue(m.result.perClass[5].iou.isNaN)
        XCTAssertEqual(m.result.perClass[4].iou, 0)
    }

    func testIntMaps_MatchNumPy_AndPerThreadMatricesMerge() throws {
        let ref = try reference()
        var whole = SemanticConfusion(classCount: ref.classes, ignoreIndex: ref.ignore)
        var parts = [SemanticConfusion(classCount: ref.classes, ignoreIndex: ref.ignore),
                     SemanticConfusion(classCount: ref.classes, ignoreIndex: ref.ignore)]
        for (i, im) in ref.images.enumerated() {
            try whole.add(groundTruth: im.gt, prediction: im.pred, width: im.width, image: "image \(i)")
            try parts[i % 2].add(groundTruth: im.gt, prediction: im.pred, width: im.width, image: "image \(i)")
        }
        assertMatches(whole, ref, "Int")
        parts[0].merge(parts[1])
        XCTAssertEqual(parts[0], whole)
    }

    func testFolders_MatchNumPy() throws {
        let ref = try reference()
        let dir = try makeTemporaryDirectory("semantic")
        try FileIO.makeDirectories(dir + "/gt")
        try FileIO.makeDirectories(dir + "/pred")
        for (i, im) in ref.images.enumerated() {
            let h = im.gt.count / im.width
            try ImageIO.saveIndexed(IndexedImage(width: im.width, height: h, indices: im.gt.map(UInt8.init), palette: IndexedImage.vocPalette),
                                    to: dir + "/gt/im\(i).png")
            try ImageIO.saveIndexed(IndexedImage(width: im.width, height: h, indices: im.pred.map(UInt8.init)), to: dir + "/pred/im\(i).png")
        }
        for threads in [1, 2] {
            let m = try SemanticConfusion.evaluateFolders(groundTruthFolder: dir + "/gt", predictionFolder: dir + "/pred",
                                                          classCount: ref.classes, threads: threads)
            assertMatches(m, ref, "folders, \(threads) threads")
        }
    }

    func testOutOfRangeAndSizeErrors_NameTheImage_AndAddNothing() throws {
        var m = SemanticConfusion(classCount: 3)
        // Void ground truth is left out whatever its prediction (255 included).
        try m.add(groundTruth: [0, 255, 2, 1] as [UInt8], prediction: [0, 255, 1, 1] as [UInt8], width: 2, image: "a.png")
        XCTAssertEqual(m.counts, [1, 0, 0, 0, 1, 0, 0, 1, 0])
        let before = m
        XCTAssertThrowsError(try m.add(groundTruth: [0, 1, 2, 1] as [UInt8], prediction: [0, 1, 3, 1] as [UInt8], width: 2, image: "b.png")) {
            XCTAssertEqual($0 as? SemanticSegmentationError,
                           .predictionOutOfRange(image: "b.png", value: 3, x: 0, y: 1, classCount: 3))
            XCTAssertTrue("\($0)".hasPrefix("b.png: predicted label 3 at (x 0, y 1)"), "\($0)")
        }
        XCTAssertThrowsError(try m.add(groundTruth: [0, 1, 7, 1] as [UInt8], prediction: [0, 1, 2, 1] as [UInt8], width: 2, image: "c.png")) {
            XCTAssertEqual($0 as? SemanticSegmentationError,
                           .groundTruthOutOfRange(image: "c.png", value: 7, x: 0, y: 1, classCount: 3, ignoreIndex: 255))
        }
        XCTAssertThrowsError(try m.add(groundTruth: [0, 1, 2, -1], prediction: [0, 1, 2, 1], width: 2, image: "d.png")) {
            XCTAssertEqual($0 as? SemanticSegmentationError,
                           .groundTruthOutOfRange(image: "d.png", value: -1, x: 1, y: 1, classCount: 3, ignoreIndex: 255))
        }
        XCTAssertThrowsError(try m.add(groundTruth: [0, 1, 2, 1], prediction: [0, 1, 2, 9], width: 2, image: "e.png")) {
            XCTAssertEqual($0 as? SemanticSegmentationError, .predictionOutOfRange(image: "e.png", value: 9, x: 1, y: 1, classCount: 3))
        }
        XCTAssertThrowsError(try m.add(groundTruth: IndexedImage(width: 2, height: 1, indices: [0, 1]),
                                       prediction: IndexedImage(width: 1, height: 2, indices: [0, 1]), image: "f.png")) {
            XCTAssertEqual("\($0)", "f.png: the prediction is 1x2, the ground truth 2x1")
        }
        XCTAssertEqual(m, before)
    }

    func testNoLabelledPixel_GivesNaN() throws {
        var m = SemanticConfusion(classCount: 2)
        try m.add(groundTruth: [255, 255] as [UInt8], prediction: [0, 1] as [UInt8], width: 2, image: "void.png")
        let r = m.result
        XCTAssertEqual(r.pixelCount, 0)
        XCTAssertTrue(r.meanIoU.isNaN && r.pixelAccuracy.isNaN && r.meanAccuracy.isNaN && r.frequencyWeightedIoU.isNaN)
    }
}
