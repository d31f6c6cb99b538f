import Datasets
import Eval
import Foundation
import TestSupport
import XCTest

/// TIDE against tidecv 1.0.1 (numbers from scripts/fixtures/tide_reference.py), on boxes and
/// on masks (tidecv's mask mode).
final class TIDETests: XCTestCase {
    struct Reference {
        var name: String
        var gtPath: String
        var dtPath: String
        var ap: Double
        var main: [String: Double]
        var special: [String: Double]
        var counts: [String: Int]
        var apByThreshold: [Double]
        var mode: TIDEMode
    }

    /// The case `name` of tide_reference.json with its paths resolved (a skip when it reads
    /// the shared data and that is absent).
    func reference(_ name: String) throws -> Reference {
        let root = try FixtureJSON.load("tide_reference.json") as! [String: Any]
        let c = (root["cases"] as! [[String: Any]]).first { $0["name"] as? String == name }!
        let (gtPath, dtPath) = try fixtureCasePaths(c)
        func numbers(_ key: String) -> [String: Double] { (c[key] as! [String: NSNumber]).mapValues(\.doubleValue) }
        return Reference(name: name, gtPath: gtPath, dtPath: dtPath,
                         ap: (c["ap"] as! NSNumber).doubleValue, main: numbers("main"), special: numbers("special"),
                         counts: (c["counts"] as! [String: NSNumber]).mapValues(\.intValue),
                         apByThreshold: (c["ap_by_threshold"] as! [NSNumber]).map(\.doubleValue),
                         mode: TIDEMode(rawValue: c["mode"] as? String ?? "bbox")!)
    }

    func load(_ r: Reference) throws -> (COCOInstances, [COCOResult]) {
        let gt = try COCOInstances.load(r.gtPath)
        return (gt, try COCOResults.load(r.dtPath, groundTruth: gt).results)
    }

    /// Compares every number of `r` with ours, printing both side by side.
    func assertMatches(_ r: Reference, tolerance: Double = 1e-6) throws {
        let (gt, dt) = try load(r)
        let ours = try TIDE.evaluate(groundTruth: gt, results: dt, params: TIDEParams(mode: r.mode))
        XCTAssertTrue(ours.summaryText.hasPrefix("\(r.mode.rawValue) AP @ 50: "), ours.summaryText)
        var rows = [("AP", ours.ap, r.ap)]
        for kind in TIDEErrorKind.allCases { rows.append((kind.rawValue, ours.errors[kind]!, r.main[kind.rawValue]!)) }
        rows.append(("FalsePos", ours.falsePositive, r.special["FalsePos"]!))
        rows.append(("FalseNeg", ours.falseNegative, r.special["FalseNeg"]!))
        for (label, observed, expected) in rows {
            print("\(r.name) \(label): ours \(observed) tidecv \(expected) diff \(abs(observed - expected))")
            XCTAssertEqual(observed, expected, accuracy: tolerance, "\(r.name) \(label)")
        }
        for kind in TIDEErrorKind.allCases {
            XCTAssertEqual(ours.counts[kind], r.counts[kind.rawValue], "\(r.name) count of \(kind.rawValue)")
        }
    }

    func testGenerated_EveryErrorTypeMatchesTidecv() throws {
        try assertMatches(try reference("generated"))
    }

    func testVal2014_EveryErrorTypeMatchesTidecv() throws {
        try assertMatches(try reference("val2014_100-bbox"))
    }

    func testGeneratedMasks_EveryErrorTypeMatchesTidecv() throws {
        try assertMatches(try reference("generated-segm"))
    }

    func testVal2014Masks_EveryErrorTypeMatchesTidecv() throws {
        try assertMatches(try reference("val2014_100-segm"))
    }

    func testGenerated_APAtEachCOCOThresholdMatchesTidecv() throws {
        for name in ["generated", "generated-segm"] {
            let r = try reference(name)
            let (gt, dt) = try load(r)
            for (t, expected) in zip(COCOEvalParams.linspace(0.5, 0.95, 10), r.apByThreshold) {
                let threshold = (t * 100).rounded() / 100   // tidecv's thresholds are the literals 0.5, 0.55, ...
                let ap = try TIDE.evaluate(groundTruth: gt, results: dt, params: TIDEParams(positiveThreshold: threshold, mode: r.mode)).ap
                XCTAssertEqual(ap, expected, accuracy: 1e-6, "\(name): AP at \(threshold)")
            }
        }
    }

    /// Mask mode reads masks only: results without a segmentation are an error naming them.
    func testMaskMode_NeedsSegmentations() throws {
        let gt = COCOInstances(images: [COCOImage(id: 1, width: 10, height: 10, fileName: "a")],
                               categories: [COCOCategory(id: 1, name: "a")], annotations: [])
        let dt = [COCOResult(imageId: 1, categoryId: 1, bbox: COCOBox(x: 0, y: 0, width: 2, height: 2), score: 1)]
        XCTAssertThrowsError(try TIDE.evaluate(groundTruth: gt, results: dt, params: TIDEParams(mode: .mask))) { e in
            XCTAssertEqual(String(describing: e), "result 0: no segmentation")
        }
    }

    /// TIDE's AP50 differs from COCOeval's on val2014_100 (64.20 against 69.70): it counts
    /// classes that have detections but no ground truth as 0.
    func testVal2014_TIDEAPBelowCOCOevalAP50() throws {
        let r = try reference("val2014_100-bbox")
        let (gt, dt) = try load(r)
        let coco = try COCOEvaluator(groundTruth: gt, results: dt, params: COCOEvalParams(iouType: .bbox)).run()
        let tide = try TIDE.evaluate(groundTruth: gt, results: dt)
        XCTAssertEqual(String(format: "%.2f", tide.ap), "64.20")
        XCTAssertEqual(String(format: "%.2f", coco.stats[1] * 100), "69.70")
    }

    func testEmptyInputs_GiveZeroAndNoErrors() throws {
        let gt = COCOInstances(images: [COCOImage(id: 1, width: 10, height: 10, fileName: "a")],
                               categories: [COCOCategory(id: 1, name: "a")], annotations: [])
        let r = try TIDE.evaluate(groundTruth: gt, results: [])
        XCTAssertEqual(r.ap, 0)
        XCTAssertEqual(r.counts.values.reduce(0, +), 0)
    }

    func testMissingBox_IsAnError() throws {
        let gt = COCOInstances(images: [COCOImage(id: 1, width: 10, height: 10, fileName: "a")],
                               categories: [COCOCategory(id: 1, name: "a")], annotations: [])
        let dt = [COCOResult(imageId: 1, categoryId: 1, bbox: nil, segmentation: .polygons([[0, 0, 1, 0, 1, 1]]), score: 1)]
        XCTAssertThrowsError(try TIDE.evaluate(groundTruth: gt, results: dt))
    }
}
