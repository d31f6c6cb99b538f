import Datasets
import Eval
import Foundation
import TestSupport
import XCTest

/// The COCO view of the ground-truth/ and detection-results/ text folders (get-map mode 4).
final class VOCToCOCOTests: XCTestCase {
    let classNames = ["cat", "dog"]

    /// Writes `files[id] = (ground-truth text, detection text)` into two fresh folders.
    func folders(_ files: [String: (gt: String, dr: String)]) throws -> (gt: String, dr: String) {
        let root = try makeTemporaryDirectory("voc2coco")
        let gt = root + "/ground-truth", dr = root + "/detection-results"
        try FileManager.default.createDirectory(atPath: gt, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dr, withIntermediateDirectories: true)
        for (id, f) in files {
            try f.gt.write(toFile: gt + "/\(id).txt", atomically: true, encoding: .utf8)
            try f.dr.write(toFile: dr + "/\(id).txt", atomically: true, encoding: .utf8)
        }
        return (gt, dr)
    }

    func vocMAP(_ f: (gt: String, dr: String)) throws -> Double {
        VOCMap.evaluate(try VOCMapInput.load(groundTruthFolder: f.gt, detectionFolder: f.dr)).mAP
    }

    /// Detections equal to the ground truth (score 1) are perfect for both metrics.
    func testDetectionsEqualToGroundTruth_PerfectScores() throws {
        let gt1 = "cat 10 10 60 50\ndog 100 20 180 140\ncat 200 200 230 260\n"
        let gt2 = "dog 5 5 400 300\n"
        let asDetections = { (gt: String) in
            gt.split(separator: "\n").map { l -> String in
                let f = l.split(separator: " ")
                return "\(f[0]) 1.0 \(f[1]) \(f[2]) \(f[3]) \(f[4])\n"
            }.joined()
        }
        let f = try folders(["img1": (gt1, asDetections(gt1)), "img2": (gt2, asDetections(gt2))])
        let data = try VOCToCOCO.load(groundTruthFolder: f.gt, detectionFolder: f.dr, classNames: classNames)
        XCTAssertEqual(data.groundTruth.annotations.count, 4)
        XCTAssertEqual(data.results.count, 4)
        let stats = try VOCToCOCO.evaluate(data).stats
        XCTAssertEqual(stats[0], 1.0, accuracy: 1e-12)   // AP@[.50:.95]
        XCTAssertEqual(stats[1], 1.0, accuracy: 1e-12)   // AP@.50
        XCTAssertEqual(stats[8], 1.0, accuracy: 1e-12)   // AR@100
        XCTAssertEqual(try vocMAP(f), 1.0, accuracy: 1e-12)
    }

    /// One image: G1 = [0,0,10,10], G2 = [20,20,30,30] (cat); detections by score: D1 on G1 with
    /// IoU 0.72 (box [0,0,10,7.2]: 72 / 100), D2 a false positive, D3 exactly G2.
    /// Thresholds 0.50...0.70 (five): TP FP TP, recall .5 .5 1, precision 1 .5 2/3; the
    /// interpolated precision is 1 for the 51 recall points r <= .5 and 2/3 for the other 50.
    /// Thresholds 0.75...0.95 (five): FP FP TP, precision 1/3 for r <= .5 (51 points), 0 after.
    /// VOC (+1 pixels): IoU(D1, G1) = 11 * 8.2 / 121 = 0.745 >= .5, AP = .5 * 1 + .5 * 2/3.
    func testHandComputedCase() throws {
        let gt = "cat 0 0 10 10\ncat 20 20 30 30\n"
        let dr = "cat 0.9 0 0 10 7.2\ncat 0.8 50 50 60 60\ncat 0.7 20 20 30 30\n"
        let f = try folders(["only": (gt, dr)])
        let stats = try VOCToCOCO.evaluate(try VOCToCOCO.load(groundTruthFolder: f.gt, detectionFolder: f.dr, classNames: classNames)).stats
        let loose = (51.0 * 1 + 50.0 * 2 / 3) / 101
        let strict = (51.0 / 3) / 101
        XCTAssertEqual(stats[1], loose, accuracy: 1e-9)                        // AP50
        XCTAssertEqual(stats[2], strict, accuracy: 1e-9)                       // AP75
        XCTAssertEqual(stats[0], (5 * loose + 5 * strict) / 10, accuracy: 1e-9) // AP
        XCTAssertEqual(stats[8], (5 * 1.0 + 5 * 0.5) / 10, accuracy: 1e-9)     // AR@100
        XCTAssertEqual(try vocMAP(f), 0.5 + 0.5 * 2 / 3, accuracy: 1e-9)
    }

    /// A difficult object becomes a crowd: a detection on it is neither TP nor FP, even with the
    /// highest score (as an FP ranked first it would make AP50 about 1/2).
    func testDifficultObjectsAreCrowds() throws {
        let gt = "dog 10 10 50 50\ndog 100 100 150 160 difficult\n"
        let dr = "dog 0.95 100 100 150 160\ndog 0.9 10 10 50 50\n"
        let f = try folders(["a": (gt, dr)])
        let data = try VOCToCOCO.load(groundTruthFolder: f.gt, detectionFolder: f.dr, classNames: classNames)
        XCTAssertEqual(data.groundTruth.annotations.map(\.isCrowd), [false, true])
        let stats = try VOCToCOCO.evaluate(data).stats
        XCTAssertEqual(stats[0], 1.0, accuracy: 1e-12)
        XCTAssertEqual(stats[1], 1.0, accuracy: 1e-12)
        XCTAssertEqual(try vocMAP(f), 1.0, accuracy: 1e-12)

        // Without the flag the first detection is a plain object's TP: still 1.0; turning the
        // difficult object into an unmatched plain one (detection moved) lowers AP.
        let g = try folders(["a": (gt.replacingOccurrences(of: " difficult", with: ""), "dog 0.95 300 300 350 360\ndog 0.9 10 10 50 50\n")])
        let lower = try VOCToCOCO.evaluate(try VOCToCOCO.load(groundTruthFolder: g.gt, detectionFolder: g.dr, classNames: classNames)).stats
        XCTAssertLessThan(lower[1], 0.99)
    }

    /// Boxes are xywh, area = w * h (the reference's w * h - 10 is not copied): a 32 x 32.2 box
    /// (area 1030.4) is medium (>= 32^2), where the reference's 1020.4 would make it small.
    func testAreaIsWidthTimesHeight() throws {
        let f = try folders(["x": ("cat 4 6 36 38.2\n", "cat 0.5 4 6 36 38.2\n")])
        let data = try VOCToCOCO.load(groundTruthFolder: f.gt, detectionFolder: f.dr, classNames: classNames)
        let ann = try XCTUnwrap(data.groundTruth.annotations.first)
        XCTAssertEqual(ann.bbox, COCOBox(x: 4, y: 6, width: 32, height: 38.2 - 6))
        XCTAssertEqual(ann.area ?? -1, 32 * (38.2 - 6), accuracy: 1e-12)
        XCTAssertEqual(data.results.first?.bbox, COCOBox(x: 4, y: 6, width: 32, height: 38.2 - 6))
        XCTAssertEqual(data.results.first?.score, 0.5)
        let stats = try VOCToCOCO.evaluate(data).stats
        XCTAssertEqual(stats[3], -1)                      // no small ground truth
        XCTAssertEqual(stats[4], 1.0, accuracy: 1e-12)    // medium
    }

    /// Image ids follow the sorted file names, category ids the class order (+1); objects and
    /// detections of other classes are left out and counted.
    func testIdsAndUnknownClasses() throws {
        let f = try folders([
            "b": ("dog 0 0 5 5\nzebra 1 1 4 4\n", "zebra 0.3 1 1 4 4\ncat 0.2 0 0 5 5\n"),
            "a": ("cat 0 0 5 5\n", ""),
        ])
        let data = try VOCToCOCO.load(groundTruthFolder: f.gt, detectionFolder: f.dr, classNames: classNames)
        XCTAssertEqual(data.groundTruth.images.map(\.id), [1, 2])
        XCTAssertEqual(data.groundTruth.images.map(\.fileName), ["a.jpg", "b.jpg"])
        XCTAssertEqual(data.groundTruth.categories.map(\.id), [1, 2])
        XCTAssertEqual(data.groundTruth.categories.map(\.name), classNames)
        XCTAssertEqual(data.groundTruth.annotations.map(\.imageId), [1, 2])
        XCTAssertEqual(data.groundTruth.annotations.map(\.categoryId), [1, 2])
        XCTAssertEqual(data.groundTruth.annotations.map(\.id), [1, 2])
        XCTAssertEqual(data.results.map(\.imageId), [2])
        XCTAssertEqual(data.results.map(\.categoryId), [1])
        XCTAssertEqual(data.skippedGroundTruth, ["zebra": 1])
        XCTAssertEqual(data.skippedDetections, ["zebra": 1])
    }

    /// A missing counterpart file is an error naming it.
    func testMissingDetectionFile_NamesIt() throws {
        let f = try folders(["a": ("cat 0 0 5 5\n", "")])
        try FileManager.default.removeItem(atPath: f.dr + "/a.txt")
        XCTAssertThrowsError(try VOCToCOCO.load(groundTruthFolder: f.gt, detectionFolder: f.dr, classNames: classNames)) { e in
            XCTAssertTrue("\(e)".contains(f.dr + "/a.txt"), "\(e)")
        }
    }
}
