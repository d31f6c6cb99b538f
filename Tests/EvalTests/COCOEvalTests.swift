import Datasets
import Eval
import Foundation
import TestSupport
import XCTest

/// COCOeval against pycocotools 2.0.11 (numbers from scripts/fixtures/coco_reference.py).
final class COCOEvalTests: XCTestCase {
    func evaluate(_ c: COCOReferenceCase, base: String, lenient: Bool = false) throws -> COCOEvalResult {
        try COCOEvaluator.evaluate(groundTruthPath: base + "/" + c.gt, resultsPath: base + "/" + c.dt,
                                   params: c.evalParams, lenient: lenient).result
    }

    func testSharedPairs_AllStatsMatchPycocotools() throws {
        _ = try TestPaths.shared("coco")
        let cases = try COCOReferenceCase.load("shared")
        XCTAssertGreaterThanOrEqual(cases.count, 5)
        for c in cases {
            let r = try evaluate(c, base: TestPaths.sharedData)
            assertStats(r.stats, c.stats, c.name)
        }
    }

    func testSharedPairs_SingleThreadEqualsParallel() throws {
        _ = try TestPaths.shared("coco")
        for c in try COCOReferenceCase.load("shared").prefix(2) {
            let root = TestPaths.sharedData
            let gt = try COCOInstances.load(root + "/" + c.gt)
            let dt = try COCOResults.load(root + "/" + c.dt, groundTruth: gt)
            let e = try COCOEvaluator(groundTruth: gt, results: dt.results, params: c.evalParams)
            let one = try e.run(threads: 1), two = try e.run(threads: 2)
            XCTAssertEqual(one.precision, two.precision, c.name)
            XCTAssertEqual(one.recall, two.recall, c.name)
        }
    }

    func testVal2014_SummaryTextAndPerCategoryAPMatchPycocotools() throws {
        _ = try TestPaths.shared("coco")
        for c in try COCOReferenceCase.load("shared") where c.summary != nil {
            let r = try evaluate(c, base: TestPaths.sharedData)
            XCTAssertEqual(r.summaryText, c.summary!, "\(c.name): summary\nexpected:\n\(c.summary!)\nobserved:\n\(r.summaryText)")
            let expected = c.perCategoryAP!
            let observed = r.perCategoryAP
            XCTAssertEqual(observed.count, expected.count, c.name)
            for (id, ap) in observed {
                let want = expected[String(id)] ?? .nan
                XCTAssertEqual(ap, want, accuracy: 1e-12, "\(c.name): category \(id): expected \(want), observed \(ap)")
            }
        }
    }

    /// The 3-decimal stats published with the cocoapi demo (val2014_fake_eval_res.txt).
    func testVal2014_MatchesPublishedPrintedStats() throws {
        let text = try String(contentsOfFile: try TestPaths.shared("coco/val2014_100/val2014_fake_eval_res.txt"), encoding: .utf8)
        let dir = try TestPaths.shared("coco/val2014_100")
        for (type, dtFile) in [("segm", "instances_val2014_fakesegm100_results.json"), ("bbox", "instances_val2014_fakebbox100_results.json")] {
            guard let block = text.components(separatedBy: "type=" + type).dropFirst().first else {
                XCTFail("no type=\(type) block in the published text"); continue
            }
            let lines = block.split(separator: "\n").filter { $0.contains("] = ") }.prefix(12)
            let published = lines.map { $0.components(separatedBy: "] = ").last!.trimmingCharacters(in: .whitespaces) }
            let r = try COCOEvaluator.evaluate(groundTruthPath: dir + "/instances_val2014_100.json", resultsPath: dir + "/" + dtFile,
                                               params: COCOEvalParams(iouType: COCOIoUType(rawValue: type)!)).result
            let ours = r.stats.map { String(format: "%0.3f", $0) }
            XCTAssertEqual(ours, published, "\(type): expected \(published), observed \(ours)")
        }
    }

    func testIgnore2299_StringImageIdIsConvertedWithAWarning() throws {
        let dir = try TestPaths.shared("coco/ignore2299")
        let gt = try COCOInstances.load(dir + "/gt_ignore_test.json")
        XCTAssertEqual(Set(gt.images.map(\.id)), [2299])
        XCTAssertTrue(gt.warnings.contains { $0.contains("\"2299\"") && $0.contains("images[0].id") }, "warnings: \(gt.warnings)")
        XCTAssertEqual(gt.annotations.filter { $0.imageId == 2299 }.count, gt.annotations.count)
    }

    func testOwnCases_AllStatsMatchPycocotools() throws {
        let cases = try COCOReferenceCase.load("own")
        XCTAssertGreaterThanOrEqual(cases.count, 16)
        for c in cases {
            let r = try evaluate(c, base: TestPaths.fixtures())
            assertStats(r.stats, c.stats, c.name)
        }
    }

    // MARK: properties

    func smallCase() throws -> (COCOInstances, [COCOResult]) {
        let gt = try COCOInstances.load(TestPaths.fixtures() + "/cases/small_gt.json")
        let dt = try COCOResults.load(TestPaths.fixtures() + "/cases/small_dt.json", groundTruth: gt)
        return (gt, dt.results)
    }

    func stats(_ gt: COCOInstances, _ dt: [COCOResult], _ type: COCOIoUType = .bbox) throws -> [Double] {
        try COCOEvaluator(groundTruth: gt, results: dt, params: COCOEvalParams(iouType: type)).run().stats
    }

    func testProperty_PerfectDetectionsGiveOne() throws {
        let (gt, _) = try smallCase()
        let perfect = gt.annotations.enumerated().map { n, a in
            COCOResult(imageId: a.imageId, categoryId: a.categoryId, bbox: a.bbox, score: 1 - 0.01 * Double(n))
        }
        for type in COCOIoUType.allCases {
            let s = try stats(gt, perfect, type)
            XCTAssertEqual(s[0], 1, "\(type): AP of perfect detections, observed \(s)")
            XCTAssertEqual(s[8], 1, "\(type): AR@100 of perfect detections, observed \(s)")
        }
    }

    func testProperty_EmptyDetectionsGiveZero() throws {
        let (gt, _) = try smallCase()
        let s = try stats(gt, [])
        XCTAssertEqual(s[0], 0)
        XCTAssertEqual(s[8], 0)
    }

    func testProperty_ShufflingDetectionsWithDistinctScoresChangesNothing() throws {
        let dir = try TestPaths.shared("coco/val2014_100")
        let gt = try COCOInstances.load(dir + "/instances_val2014_100.json")
        let dt = try COCOResults.load(dir + "/instances_val2014_fakebbox100_results.json", groundTruth: gt).results
        // Make the scores distinct (ties are ordered by file position, by design).
        let distinct = dt.enumerated().map { n, r in
            var r = r
            r.score = r.score + Double(n) * 1e-9
            return r
        }
        let reference = try stats(gt, distinct)
        var rng = SystemRandomNumberGenerator()
        for trial in 0..<3 {
            let shuffled = distinct.shuffled(using: &rng)
            XCTAssertEqual(try stats(gt, shuffled), reference, "trial \(trial)")
        }
    }

    func testProperty_AddingACrowdNeverLowersAP() throws {
        let (gt, dt) = try smallCase()
        let before = try stats(gt, dt)
        var g = gt
        var seed: UInt64 = 12345
        func next() -> Double {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Double(seed >> 11) / Double(1 << 53)
        }
        for n in 0..<20 {
            var withCrowd = g
            let img = gt.images[n % gt.images.count]
            let box = COCOBox(x: next() * 50, y: next() * 40, width: 5 + next() * 40, height: 5 + next() * 40)
            withCrowd.annotations.append(COCOAnnotation(id: 1000 + Int64(n), imageId: img.id, categoryId: gt.categories[n % 2].id,
                                                        bbox: box, area: box.width * box.height, isCrowd: true))
            let after = try stats(withCrowd, dt)
            XCTAssertGreaterThanOrEqual(after[0], before[0] - 1e-15, "crowd \(n) \(box) lowered AP: \(before[0]) -> \(after[0])")
            g = withCrowd
        }
    }

    func testCustomParams_MissingLabelsAndMaxDetsReadMinusOne() throws {
        let (gt, dt) = try smallCase()
        var p = COCOEvalParams(iouType: .bbox)
        p.maxDets = [1, 5, 20]
        let s = try COCOEvaluator(groundTruth: gt, results: dt, params: p).run().stats
        XCTAssertEqual(s[0], -1, "pycocotools' first line asks for maxDets=100 literally")
        XCTAssertGreaterThan(s[1], 0)
    }

    func testUndecodableCompressedRLE_IsAnErrorNamingTheResult() throws {
        let (gt, _) = try smallCase()
        let bad = [COCOResult(imageId: 1, categoryId: 3, bbox: nil,
                              segmentation: .compressedRLE(height: 80, width: 100, counts: Array("0\u{7f}".utf8)), score: 0.5)]
        XCTAssertThrowsError(try COCOEvaluator(groundTruth: gt, results: bad, params: COCOEvalParams(iouType: .segm)).run()) { e in
            XCTAssertEqual("\(e)", "result 0: bad segmentation: compressed RLE counts cannot be decoded")
        }
    }

    func testReports_PerCategoryTableAndJSON() throws {
        let (gt, dt) = try smallCase()
        let r = try COCOEvaluator(groundTruth: gt, results: dt, params: COCOEvalParams(iouType: .bbox)).run()
        let table = r.perCategoryTable(gt.categories)
        XCTAssertTrue(table.hasPrefix("category  AP\n"), table)
        XCTAssertEqual(table.split(separator: "\n").count, 3, table)
        let json = r.jsonReport(gt.categories)
        XCTAssertTrue(json.hasPrefix("{\"stats\": [\(r.stats[0]), "), json)
        XCTAssertTrue(json.contains("\"cat\": {\"ap\": ") && json.contains("\"dog\": {\"ap\": "), json)
        let parsed = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        XCTAssertEqual((parsed?["stats"] as? [Any])?.count, 12)
    }

    func testLinspace_MatchesNumpyThresholds() {
        let t = COCOEvalParams.linspace(0.5, 0.95, 10)
        XCTAssertEqual(t[0], 0.5)
        XCTAssertEqual(t[5], 0.75, "AP75 is found by == in pycocotools")
        XCTAssertEqual(t[9], 0.95)
        XCTAssertEqual(COCOEvalParams.linspace(0, 1, 101)[57], 0.5700000000000001, "numpy: 57 * 0.01")
    }
}
