import Datasets
import Eval
import TestSupport
import XCTest

/// The analysis' curves and per-image counts against the numbers they must agree with.
final class AnalysisCurvesTests: XCTestCase {
    func testCurves_AgreeWithCOCOevalAndThePerClassTable() throws {
        let (_, _, a) = try AnalysisSamples.tideGenerated(scoreThreshold: 0.25)
        // The mean precision-recall curve averages to COCOeval's AP50; a curve per class with
        // ground truth (one of the four has only detections).
        let withTruth = a.perClass.rows.filter { $0.counts.groundTruths > 0 }
        let pr = a.precisionRecall
        XCTAssertEqual(pr.x.count, 101)
        XCTAssertEqual(pr.perClass.map(\.categoryId), withTruth.map(\.categoryId))
        XCTAssertEqual(pr.mean.reduce(0, +) / 101, a.coco.stats[1], accuracy: 1e-12)
        for (curve, row) in zip(pr.perClass, withTruth) {
            XCTAssertEqual(curve.y.reduce(0, +) / 101, row.ap50, accuracy: 1e-12, row.name)
        }
        // F1 at the score threshold equals the table's F1 (same matching, same `>`).
        let f1 = a.f1
        let at = try XCTUnwrap(f1.x.firstIndex(of: 0.25))
        XCTAssertEqual(f1.perClass.map(\.categoryId), withTruth.map(\.categoryId))
        for (curve, row) in zip(f1.perClass, withTruth) {
            XCTAssertEqual(curve.y[at], row.counts.f1.isNaN ? 0 : row.counts.f1, accuracy: 1e-12, row.name)
        }
        let best = try XCTUnwrap(f1.bestIndex)
        XCTAssertEqual(f1.mean[best], f1.mean.max()!)
        // Per-image counts sum to the per-class ones; the worst images come first.
        let rows = a.perClass.rows
        XCTAssertEqual(a.images.reduce(0) { $0 + $1.truePositives }, rows.reduce(0) { $0 + $1.counts.truePositives })
        XCTAssertEqual(a.images.reduce(0) { $0 + $1.falsePositives }, rows.reduce(0) { $0 + $1.counts.falsePositives })
        XCTAssertEqual(a.images.reduce(0) { $0 + $1.groundTruths }, rows.reduce(0) { $0 + $1.counts.groundTruths })
        let worst = a.worstImages(5)
        XCTAssertEqual(worst.count, 5)
        XCTAssertEqual(worst.map(\.errors), worst.map(\.errors).sorted(by: >))
        XCTAssertGreaterThanOrEqual(worst.last!.errors, a.images.map(\.errors).sorted(by: >)[4])
    }

    func testF1_HandMadeCase() {
        // One class, 2 ground truths; scores 0.9 (hit), 0.6 (miss), 0.3 (hit).
        let s = COCOScoredDetections(categoryId: 1, groundTruths: 2, scores: [0.9, 0.6, 0.3], matched: [true, false, true])
        let c = ClassCurves.f1([s], thresholds: [0.0, 0.5, 0.7, 0.95])
        // > 0: P 2/3, R 1 -> 0.8; > 0.5: P 1/2, R 1/2 -> 0.5; > 0.7: P 1, R 1/2 -> 2/3; > 0.95: none -> 0.
        let expected = [0.8, 0.5, 2.0 / 3, 0]
        XCTAssertEqual(c.mean.count, expected.count)
        for (got, want) in zip(c.mean, expected) { XCTAssertEqual(got, want, accuracy: 1e-12, "\(c.mean)") }
        XCTAssertEqual(c.bestIndex, 0)
        XCTAssertEqual(ClassCurves.f1([], thresholds: [0, 1]).mean, [0, 0])
    }
}
