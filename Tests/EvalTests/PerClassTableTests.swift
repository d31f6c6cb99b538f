import Datasets
import Eval
import Foundation
import TestSupport
import XCTest

/// The per-class table against pycocotools (scripts/fixtures/per_class_reference.py): the AP
/// slices of COCOeval's precision array and the counts of its evalImgs at score > 0.25, IoU 0.5.
final class PerClassTableTests: XCTestCase {
    func table(_ name: String) throws -> (PerClassTable, [[String: Any]]) {
        let root = try FixtureJSON.load("per_class_reference.json") as! [String: Any]
        let c = (root["cases"] as! [[String: Any]]).first { $0["name"] as? String == name }!
        let (gtPath, dtPath) = try fixtureCasePaths(c)
        let threshold = (root["score_threshold"] as! NSNumber).doubleValue
        let gt = try COCOInstances.load(gtPath)
        let dt = try COCOResults.load(dtPath, groundTruth: gt).results
        let params = COCOEvalParams(iouType: COCOIoUType(rawValue: c["iou_type"] as? String ?? "bbox")!)
        let (result, counts) = try COCOEvaluator(groundTruth: gt, results: dt, params: params)
            .runCounting(scoreThreshold: threshold)
        let table = PerClassTable(result: result, counts: counts, categories: gt.categories, scoreThreshold: threshold)
        // The analysis builds the same table from its one COCOeval run (masks for segm).
        let analysis = try DetectionAnalysis(groundTruth: gt, results: dt, params: params, scoreThreshold: threshold)
        XCTAssertEqual(analysis.perClass.csv, table.csv, name)
        return (table, c["rows"] as! [[String: Any]])
    }

    func assertMatchesPycocotools(_ name: String) throws {
        let (table, expected) = try table(name)
        XCTAssertEqual(table.rows.count, expected.count, name)
        var worst = 0.0
        for (row, e) in zip(table.rows, expected) {
            func number(_ key: String) -> Double { (e[key] as! NSNumber).doubleValue }
            func count(_ key: String) -> Int { (e[key] as! NSNumber).intValue }
            XCTAssertEqual(row.categoryId, (e["category_id"] as! NSNumber).int64Value)
            for (ours, key) in [(row.ap, "ap"), (row.ap50, "ap50"), (row.ap75, "ap75")] {
                worst = max(worst, abs(ours - number(key)))
                XCTAssertEqual(ours, number(key), accuracy: 1e-12, "\(name) \(row.name) \(key)")
            }
            let c = row.counts
            XCTAssertEqual([c.groundTruths, c.detections, c.truePositives, c.falsePositives],
                           [count("ground_truths"), count("detections"), count("true_positives"), count("false_positives")],
                           "\(name) \(row.name): GT, detections, TP, FP")
        }
        print("\(name): max |AP slice - pycocotools| = \(worst)")
    }

    func testGenerated_MatchesPycocotools() throws {
        try assertMatchesPycocotools("generated")
    }

    func testVal2014_MatchesPycocotools() throws {
        try assertMatchesPycocotools("val2014_100-bbox")
    }

    func testGeneratedMasks_MatchesPycocotools() throws {
        try assertMatchesPycocotools("generated-segm")
    }

    func testVal2014Masks_MatchesPycocotools() throws {
        try assertMatchesPycocotools("val2014_100-segm")
    }

    func testCounts_PrecisionRecallF1() {
        let c = COCOCategoryCounts(categoryId: 1, groundTruths: 8, detections: 10, truePositives: 4, falsePositives: 1)
        XCTAssertEqual(c.precision, 0.8)
        XCTAssertEqual(c.recall, 0.5)
        XCTAssertEqual(c.f1, 2 * 0.8 * 0.5 / 1.3, accuracy: 1e-15)
        let none = COCOCategoryCounts(categoryId: 2, groundTruths: 0, detections: 0, truePositives: 0, falsePositives: 0)
        XCTAssertTrue(none.precision.isNaN && none.recall.isNaN && none.f1.isNaN)
        let missed = COCOCategoryCounts(categoryId: 3, groundTruths: 2, detections: 1, truePositives: 0, falsePositives: 1)
        XCTAssertEqual(missed.f1, 0)
    }

    func testTextAndCSV_HaveOneLinePerCategory() throws {
        let (table, _) = try table("generated")
        let csv = table.csv.split(separator: "\n")
        XCTAssertEqual(csv.first, "category_id,category,ap,ap50,ap75,precision,recall,f1,ground_truths,detections,true_positives,false_positives")
        XCTAssertEqual(csv.count, table.rows.count + 1)
        XCTAssertTrue(csv.allSatisfy { $0.split(separator: ",", omittingEmptySubsequences: false).count == 12 })
        // 'star' has detections but no ground truth: its APs and recall are undefined.
        XCTAssertTrue(csv.contains { $0.hasPrefix("7,star,nan,nan,nan,") }, table.csv)
        let text = table.text.split(separator: "\n")
        XCTAssertEqual(text.count, table.rows.count + 2)
        XCTAssertTrue(text[0].contains("score > 0.25"))
        print(table.text)
    }

    func testCSVField_QuotesCommasAndQuotes() throws {
        let c = COCOCategoryCounts(categoryId: 5, groundTruths: 1, detections: 1, truePositives: 1, falsePositives: 0)
        var table = PerClassTable(result: try COCOEvaluator(groundTruth: COCOInstances(images: [], categories: [], annotations: []),
                                                             results: [], params: COCOEvalParams(iouType: .bbox)).run(),
                                       counts: [], categories: [], scoreThreshold: 0.25)
        table.rows = [PerClassTable.Row(categoryId: 5, name: "a, \"b\"", ap: 1, ap50: 1, ap75: 1, counts: c)]
        XCTAssertTrue(table.csv.contains("5,\"a, \"\"b\"\"\",1.0,1.0,1.0,1.0,1.0,1.0,1,1,1,0"), table.csv)
    }
}
