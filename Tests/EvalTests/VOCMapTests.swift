import Datasets
@testable import Eval
import Foundation
import TestSupport
import XCTest

final class VOCMapTests: XCTestCase {
    func cartucho() throws -> VOCMapInput {
        let root = try TestPaths.shared("map/cartucho_sample")
        return try VOCMapInput.load(groundTruthFolder: root + "/ground-truth", detectionFolder: root + "/detection-results")
    }

    func testCartucho_MatchesReference() throws {
        let input = try cartucho()
        let root = try TestPaths.shared("map/cartucho_sample")
        let data = try Data(contentsOf: URL(fileURLWithPath: root + "/reference_metrics.json"))
        let ref = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let perClass = ref["per_class_ap_iou0.50"] as! [String: [String: Any]]

        let r50 = VOCMap.evaluate(input)
        XCTAssertEqual(r50.mAP, ref["voc_map_iou0.50"] as! Double, accuracy: 1e-12)
        XCTAssertEqual(r50.mAP, 0.31047718500906324, accuracy: 1e-12)
        XCTAssertEqual(r50.classes.count, 30)
        XCTAssertEqual(r50.classes.map(\.name), perClass.keys.sorted())
        for c in r50.classes {
            let e = perClass[c.name]!
            XCTAssertEqual(c.ap, e["ap"] as! Double, accuracy: 1e-12, c.name)
            XCTAssertEqual(c.truePositives, e["tp"] as! Int, c.name)
            XCTAssertEqual(c.detectionCount, e["n_det"] as! Int, c.name)
        }
        XCTAssertEqual(r50.groundTruthCounts.values.reduce(0, +), 686)
        XCTAssertEqual(r50.detectionCounts.values.reduce(0, +), 494)
        XCTAssertEqual(r50.detectionCounts.count, 36)
        XCTAssertEqual(r50.classesWithoutGroundTruth.count, 8)  // 36 detected classes, 28 of them with ground truth
        XCTAssertTrue(r50.resultsText().contains("\n# mAP of all classes\nmAP = 31.05%\n"))

        let r75 = VOCMap.evaluate(input, options: VOCMapOptions(minOverlap: 0.75))
        XCTAssertEqual(r75.mAP, 0.12110114378290794, accuracy: 1e-12)
    }

    func testCartucho_ResultsTextFormat() throws {
        let r = VOCMap.evaluate(try cartucho())
        let text = r.resultsText()
        XCTAssertTrue(text.hasPrefix("# AP and precision/recall per class\n22.73% = backpack AP \n Precision: ['"), String(text.prefix(200)))
        XCTAssertTrue(text.contains("\n# Number of ground-truth objects per class\nbackpack: "), text)
        XCTAssertTrue(text.contains("\n# Number of detected objects per class\n"), text)
        XCTAssertTrue(text.contains("chair: 135 (tp:73, fp:62)\n"), text)
        // "doll" has ground truth but no detection: empty lists.
        XCTAssertTrue(text.contains("0.00% = doll AP \n Precision: []\n Recall :[]\n\n"), text)
        let lines = r.consoleLines()
        XCTAssertEqual(lines.last, "mAP = 31.05%")
        XCTAssertTrue(lines.contains { $0.hasPrefix("0.00% = doll AP \t||\tscore_threhold=0.5 : F1=0.00% ;") }, "\(lines)")
    }

    func testElevenPoint() {
        // Recall reaches 0.5 with precision 1, then nothing: 6 of 11 points (0 ... 0.5) have 1.
        XCTAssertEqual(VOCMap.elevenPointAP(recall: [0.25, 0.5], precision: [1, 1]), 6.0 / 11.0, accuracy: 1e-15)
        XCTAssertEqual(VOCMap.elevenPointAP(recall: [], precision: []), 0)
        XCTAssertEqual(VOCMap.allPointEnvelope(recall: [0.25, 0.5], precision: [1, 1]).ap, 0.5)
        // The envelope takes the best precision at higher recall.
        XCTAssertEqual(VOCMap.allPointEnvelope(recall: [0.5, 0.5, 1.0], precision: [1, 0.5, 2.0 / 3.0]).ap, 0.5 + 0.5 * 2.0 / 3.0)
    }

    func testCartucho_ElevenPointFollowsDefinition() throws {
        let input = try cartucho()
        let r = VOCMap.evaluate(input, options: VOCMapOptions(elevenPoint: true))
        // Cartucho's main.py with its voc_ap replaced by py-faster-rcnn voc_eval's 11-point
        // formula (np.arange(0., 1.1, 0.1) thresholds, p / 11 summed) gives this mAP.
        XCTAssertEqual(r.mAP, 0.31696509585696503, accuracy: 1e-12)
        // bed's 11-point AP from the definition: the best precision at recall >= t, t = 0, 0.1, ..., 1.
        let c = r.classes.first { $0.name == "bed" }!
        var expected = 0.0
        for k in 0...10 {
            let t = Double(k) * 0.1
            let ps = zip(c.recall, c.precision).filter { $0.0 >= t }.map(\.1)
            expected += (ps.max() ?? 0) / 11
        }
        XCTAssertEqual(c.ap, expected, accuracy: 1e-15)
    }

    // MARK: properties

    func box(_ cls: String, _ l: Double, _ t: Double, _ r: Double, _ b: Double, difficult: Bool = false) -> VOCGroundTruthObject {
        VOCMapSamples.object(cls, l, t, r, b, difficult: difficult)
    }

    func syntheticInput(images: Int = 20, seed: UInt64 = 1) -> VOCMapInput { VOCMapSamples.synthetic(images: images, seed: seed) }

    func testPerfectDetections_GiveOne() {
        let input = syntheticInput()
        let perfect = input.groundTruth.map { $0.map { VOCDetection(className: $0.className, score: 0.9, left: $0.left, top: $0.top, right: $0.right, bottom: $0.bottom) } }
        let r = VOCMap.evaluate(VOCMapInput(imageIDs: input.imageIDs, groundTruth: input.groundTruth, detections: perfect))
        XCTAssertEqual(r.mAP, 1.0)
        XCTAssertTrue(r.classes.allSatisfy { $0.ap == 1.0 && $0.precisionAtThreshold == 1 && $0.recallAtThreshold == 1 && $0.f1AtThreshold == 1 })
        let r11 = VOCMap.evaluate(VOCMapInput(imageIDs: input.imageIDs, groundTruth: input.groundTruth, detections: perfect),
                                  options: VOCMapOptions(elevenPoint: true))
        XCTAssertEqual(r11.mAP, 1.0, accuracy: 1e-15)
    }

    func testEmptyDetections_GiveZero() {
        let input = syntheticInput()
        let r = VOCMap.evaluate(VOCMapInput(imageIDs: input.imageIDs, groundTruth: input.groundTruth,
                                            detections: input.detections.map { _ in [] }))
        XCTAssertEqual(r.mAP, 0)
        XCTAssertEqual(r.classes.count, 3)
        XCTAssertTrue(r.classes.allSatisfy { $0.ap == 0 && $0.precision.isEmpty })
    }

    func testShufflingDistinctScores_ChangesNothing() {
        let input = syntheticInput(images: 30, seed: 7)
        let base = VOCMap.evaluate(input)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<5 {
            let order = input.imageIDs.indices.shuffled(using: &rng)
            let shuffled = VOCMapInput(imageIDs: order.map { input.imageIDs[$0] },
                                       groundTruth: order.map { input.groundTruth[$0] },
                                       detections: order.map { input.detections[$0].shuffled(using: &rng) })
            let r = VOCMap.evaluate(shuffled)
            XCTAssertEqual(r.mAP, base.mAP)
            XCTAssertEqual(r.classes.map(\.ap), base.classes.map(\.ap))
        }
    }

    func testDifficultAndRepeatedMatches() {
        let g = [[box("a", 0, 0, 9, 9), box("a", 50, 50, 59, 59, difficult: true)]]
        let d = [[VOCDetection(className: "a", score: 0.9, left: 0, top: 0, right: 9, bottom: 9),
                  VOCDetection(className: "a", score: 0.8, left: 0, top: 0, right: 9, bottom: 9),   // repeated: FP
                  VOCDetection(className: "a", score: 0.7, left: 50, top: 50, right: 59, bottom: 59), // difficult: ignored
                  VOCDetection(className: "b", score: 0.7, left: 50, top: 50, right: 59, bottom: 59)]] // no GT class
        let r = VOCMap.evaluate(VOCMapInput(imageIDs: ["x"], groundTruth: g, detections: d))
        XCTAssertEqual(r.classes.count, 1)
        let a = r.classes[0]
        XCTAssertEqual(a.groundTruthCount, 1)
        XCTAssertEqual(a.truePositives, 1)
        XCTAssertEqual(a.falsePositives, 1)
        XCTAssertEqual(a.detectionCount, 3)
        XCTAssertEqual(a.ap, 1.0)
        XCTAssertEqual(a.precision, [1, 0.5, 0.5])
        XCTAssertEqual(r.classesWithoutGroundTruth, ["b"])
        XCTAssertTrue(r.resultsText().contains("a: 3 (tp:1, fp:2)\nb: 1 (tp:0, fp:1)\n"))
        // +1 convention: boxes [0,9] and [5,14] overlap 5 of 10 pixels a side: 25 / (100 + 100 - 25).
        XCTAssertEqual(VOCMap.overlap(VOCDetection(className: "a", score: 1, left: 5, top: 0, right: 14, bottom: 9), box("a", 0, 0, 9, 9)), 50.0 / 150.0)
    }

    func testScoreThreshold() {
        let g = [[box("a", 0, 0, 9, 9), box("a", 20, 20, 29, 29)]]
        let d = [[VOCDetection(className: "a", score: 0.9, left: 0, top: 0, right: 9, bottom: 9),
                  VOCDetection(className: "a", score: 0.4, left: 20, top: 20, right: 29, bottom: 29)]]
        let input = VOCMapInput(imageIDs: ["x"], groundTruth: g, detections: d)
        let r = VOCMap.evaluate(input)
        XCTAssertEqual(r.classes[0].recallAtThreshold, 0.5)
        XCTAssertEqual(r.classes[0].precisionAtThreshold, 1)
        XCTAssertEqual(r.classes[0].f1AtThreshold, 2 * 0.5 / 1.5, accuracy: 1e-15)
        let none = VOCMap.evaluate(input, options: VOCMapOptions(scoreThreshold: 0.95))
        XCTAssertEqual(none.classes[0].recallAtThreshold, 0)
        XCTAssertEqual(none.classes[0].countAboveThreshold, 0)
        XCTAssertEqual(none.classes[0].ap, 1)
    }

    // MARK: bad input

    func assertError(naming file: String, _ fragment: String, _ body: () throws -> Void, line: UInt = #line) {
        do {
            try body()
            XCTFail("expected an error naming \(file)", line: line)
        } catch {
            let message = "\(error)"
            XCTAssertTrue(message.contains(file), "'\(message)' does not name \(file)", line: line)
            XCTAssertTrue(message.contains(fragment), "'\(message)' lacks '\(fragment)'", line: line)
        }
    }

    func testBadInputs_NameTheFile() throws {
        let dir = try makeTemporaryDirectory("detrkit-voc")
        let gt = dir + "/ground-truth", dr = dir + "/detection-results"
        try FileManager.default.createDirectory(atPath: gt, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dr, withIntermediateDirectories: true)
        assertError(naming: gt, "no ground-truth files") { _ = try VOCMapInput.load(groundTruthFolder: gt, detectionFolder: dr) }
        assertError(naming: dir + "/nope", "no such directory") { _ = try VOCMapInput.load(groundTruthFolder: dir + "/nope", detectionFolder: dr) }

        try "cat 1 2 3 4\n".write(toFile: gt + "/a.txt", atomically: true, encoding: .utf8)
        assertError(naming: dr + "/a.txt", "not found") { _ = try VOCMapInput.load(groundTruthFolder: gt, detectionFolder: dr) }
        try "".write(toFile: dr + "/a.txt", atomically: true, encoding: .utf8)
        XCTAssertEqual(try VOCMapInput.load(groundTruthFolder: gt, detectionFolder: dr).detections, [[]])

        try "".write(toFile: dr + "/b.txt", atomically: true, encoding: .utf8)
        assertError(naming: gt + "/b.txt", "not found") { _ = try VOCMapInput.load(groundTruthFolder: gt, detectionFolder: dr) }
        try FileManager.default.removeItem(atPath: dr + "/b.txt")

        try "cat 0.9 1 2 3\n".write(toFile: dr + "/a.txt", atomically: true, encoding: .utf8)
        assertError(naming: dr + "/a.txt:1", "5 fields") { _ = try VOCMapInput.load(groundTruthFolder: gt, detectionFolder: dr) }
        try "cat 0.9 1 2 3 4\ncat 0.8 1 2 x 4\n".write(toFile: dr + "/a.txt", atomically: true, encoding: .utf8)
        assertError(naming: dr + "/a.txt:2", "right 'x'") { _ = try VOCMapInput.load(groundTruthFolder: gt, detectionFolder: dr) }
        try "cat 0.9 1 2 3 4\n".write(toFile: dr + "/a.txt", atomically: true, encoding: .utf8)
        try "cat 1 2 3 4\nbig cat 1 2 3 4\n".write(toFile: gt + "/a.txt", atomically: true, encoding: .utf8)
        assertError(naming: gt + "/a.txt:2", "no spaces") { _ = try VOCMapInput.load(groundTruthFolder: gt, detectionFolder: dr) }
        try "cat 1 2 3 4\n\ncat 5 6 7 8 difficult\n".write(toFile: gt + "/a.txt", atomically: true, encoding: .utf8)
        let ok = try VOCMapInput.load(groundTruthFolder: gt, detectionFolder: dr)
        XCTAssertEqual(ok.groundTruth[0].map(\.difficult), [false, true])
    }
}

/// A small case checked against Cartucho/mAP's main.py (with bubbliiiing's max(tp + fp, 1)):
/// a difficult object matched first, empty files, a file without a final newline, float
/// coordinates and a class (Zebra) that only the detections have.
enum CrosscheckCase {
    // scripts/fixtures/voc_map_crosscheck.py --emit-swift 3
    static let gt: [String: String] = [
        "img000": "tv_monitor 278 66 373 188\n",
        "img001": "car 132 282 192 332\ndog 388 302 399 380\ncar 372 295 486 330\ncat 69 253 125 320\ncat 143 310 185 394\ndog 324 293 393 366 difficult\n",
        "img002": "",
        "img003": "car 192 235 326 334\n",
        "img004": "tv_monitor 323 68 339 154\ncat 189 128 306 205\nbird 193 53 200 199\ncar 332 357 357 384\n",
        "img005": "tv_monitor 66 215 141 348\ncar 79 102 81 225\n",
        "img006": "cat 17 355 149 406\n",
        "img007": "tv_monitor 244 400 260 491\ntv_monitor 61 87 123 158\nbird 127 137 262 271\ndog 161 36 251 135\ncar 40 290 86 301\ncat 125 111 263 181\n",
    ]
    static let dr: [String: String] = [
        "img000": "",
        "img001": "car 0.540974 137 294 181 324\ncar 0.634861 117 288 201 319\ndog 0.15 322 305 381 352\ncar 0.472749 395 312 413 378\ncat 0.53 82 248 131 334\ndog 0.85 334 280 391 379\ncat 0.78 80 250 128 316",
        "img002": "cat 0.6 39.0 55.0 48.0 106.5\ncar 0.263 149.0 312.0 326.0 323.5\n",
        "img003": "car 0.716 324.0 368.0 402.0 480.5\nbird 0.548 266.0 155.0 269.0 262.5\n",
        "img004": "car 0.7 344 372 347 371\ntv_monitor 0.61 308 71 325 169\ndog 0.53 61.0 17.0 110.0 98.5\nbird 0.3 186 45 195 189\ncat 0.2 185 140 310 198\nZebra 0.885 332.0 111.0 448.0 181.5",
        "img005": "tv_monitor 0.464721 64 218 139 334\ncar 0.558871 87 101 92 234\ntv_monitor 0.662987 74 115 73 237\n",
        "img006": "cat 0.6 5 345 150 400\ncat 0.2 15 341 164 420\n",
        "img007": "tv_monitor 0.464 134.0 62.0 166.0 250.5\ncat 0.5 128 138 262 266\ncar 0.496152 55 297 84 300\ncar 0.4 149 25 253 120\ntv_monitor 0.8 64 99 120 144\ncar 0.6 38 276 82 306\ndog 0.88 218.0 66.0 302.0 162.5\ndog 0.3 113 125 248 258\nZebra 0.668 271.0 192.0 459.0 274.5",
    ]
    // IoU 0.5: mAP and per class (AP, TP)
    static let map50 = 0.1577777777777778
    static let perClass50: [String: (Double, Int)] = ["bird": (0.0, 0), "car": (0.05555555555555555, 1), "cat": (0.43333333333333335, 3), "dog": (0.0, 0), "tv_monitor": (0.30000000000000004, 2)]
    // IoU 0.7: mAP and per class (AP, TP)
    static let map70 = 0.01666666666666667
    static let perClass70: [String: (Double, Int)] = ["bird": (0.0, 0), "car": (0.0, 0), "cat": (0.03333333333333333, 1), "dog": (0.0, 0), "tv_monitor": (0.05, 1)]
}

final class VOCMapCrosscheckTests: XCTestCase {
    func testSeed3_MatchesCartucho() throws {
        let dir = try makeTemporaryDirectory("detrkit-voc-x")
        for (sub, files) in [("ground-truth", CrosscheckCase.gt), ("detection-results", CrosscheckCase.dr)] {
            try FileManager.default.createDirectory(atPath: dir + "/" + sub, withIntermediateDirectories: true)
            for (id, text) in files { try text.write(toFile: dir + "/" + sub + "/" + id + ".txt", atomically: true, encoding: .utf8) }
        }
        let input = try VOCMapInput.load(groundTruthFolder: dir + "/ground-truth", detectionFolder: dir + "/detection-results")
        for (iou, m, perClass) in [(0.5, CrosscheckCase.map50, CrosscheckCase.perClass50), (0.7, CrosscheckCase.map70, CrosscheckCase.perClass70)] {
            let r = VOCMap.evaluate(input, options: VOCMapOptions(minOverlap: iou))
            XCTAssertEqual(r.mAP, m, accuracy: 1e-12, "IoU \(iou)")
            XCTAssertEqual(r.classes.map(\.name), perClass.keys.sorted())
            for c in r.classes {
                XCTAssertEqual(c.ap, perClass[c.name]!.0, accuracy: 1e-12, "\(c.name) IoU \(iou)")
                XCTAssertEqual(c.truePositives, perClass[c.name]!.1, "\(c.name) IoU \(iou)")
            }
            XCTAssertEqual(r.classesWithoutGroundTruth, ["Zebra"])
        }
    }
}
