import Base
import Datasets
import Eval
import TestSupport
import XCTest

/// The shapes generator's COCO panoptic set read by the panoptic evaluator: scored against
/// itself it gives PQ = SQ = RQ = 1 over things and stuff.
final class DemoPanopticTests: XCTestCase {
    func testDemoPanoptic_ScoresOneAgainstItself() throws {
        let seg = try XCTUnwrap(try makeSegmentationDemo(images: 20, minSide: 96, maxSide: 128, seed: 0).segmentation)
        // The set holds a crowd region (a small "difficult" shape), which the evaluator leaves out.
        let all = try COCOPanoptic.load(seg.panopticTrainJSON).annotations + COCOPanoptic.load(seg.panopticValJSON).annotations
        XCTAssertGreaterThan(all.flatMap { $0.segments }.filter { $0.isCrowd == 1 }.count, 0)
        for json in [seg.panopticTrainJSON, seg.panopticValJSON] {
            let r = try PanopticQuality.evaluate(groundTruthJSON: json, groundTruthFolder: seg.panopticFolder,
                                                 predictionJSON: json, predictionFolder: seg.panopticFolder, threads: 1)
            XCTAssertEqual(r.all.pq, 1, accuracy: 1e-12, json)
            XCTAssertEqual(r.all.sq, 1, accuracy: 1e-12, json)
            XCTAssertEqual(r.things.pq, 1, accuracy: 1e-12, json)
            XCTAssertEqual(r.stuff.pq, 1, accuracy: 1e-12, json)
            XCTAssertGreaterThan(r.things.n, 0, json)
            XCTAssertGreaterThan(r.stuff.n, 0, json)
        }
    }
}
