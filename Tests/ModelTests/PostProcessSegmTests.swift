import Foundation
import Model
import Tensor
import TestSupport
import XCTest

/// PostProcessPanoptic and PostProcessSegm against the PyTorch + PIL restatement in
/// scripts/fixtures/panoptic_postprocess_reference.py.
final class PostProcessSegmTests: XCTestCase {
    struct Segment: Decodable {
        let id: Int
        let isthing: Bool
        let category_id: Int
        let area: Int
    }

    struct PanopticCase: Decodable {
        let logits: [Float]
        let q: Int
        let c: Int
        let masks: [Float]
        let size: [Int]
        let target: [Int]
        let ids: [Int32]
        let segments: [Segment]
    }

    struct Segm: Decodable {
        let masks: [Float]
        let processed: [[Int]]
        let original: [[Int]]
        let out: [[UInt8]]
    }

    struct Reference: Decodable {
        let panoptic: [PanopticCase]
        let segm: Segm
    }

    static func reference() throws -> Reference {
        try TestPaths.decodeFixture(Reference.self, "postprocess_reference.json")
    }

    func testPanoptic_MatchesReference() throws {
        let ref = try Self.reference()
        for (k, c) in ref.panoptic.enumerated() {
            let pred = postProcessPanoptic(logits: Tensor(c.logits, shape: [c.q, c.c]),
                                           masks: Tensor(c.masks, shape: [c.q, 8, 12]),
                                           isThing: { $0 < 3 },
                                           processedSize: (c.size[0], c.size[1]), targetSize: (c.target[0], c.target[1]))
            XCTAssertEqual(pred.segments, c.segments.map { PredictedSegment(id: $0.id, isThing: $0.isthing, categoryId: $0.category_id, area: $0.area) },
                           "case \(k)")
            let differing = zip(pred.ids, c.ids).filter { $0 != $1 }.count
            XCTAssertEqual(differing, 0, "case \(k): \(differing) pixels with another id")
        }
    }

    func testSegm_MatchesReference() throws {
        let ref = try Self.reference()
        let s = ref.segm
        let out = postProcessSegmentation(masks: Tensor(s.masks, shape: [2, 3, 6, 7]),
                                          processedSizes: s.processed.map { ($0[0], $0[1]) },
                                          originalSizes: s.original.map { ($0[0], $0[1]) })
        for i in 0..<2 {
            let ours = out[i].masks.flatMap { $0 }.map { UInt8($0 ? 1 : 0) }
            XCTAssertEqual(ours.count, s.out[i].count)
            XCTAssertEqual(zip(ours, s.out[i]).filter { $0 != $1 }.count, 0, "image \(i)")
        }
    }

    func testPanoptic_RGBEncoding() {
        let p = PanopticPrediction(height: 1, width: 2, ids: [1, 300], segments: [])
        XCTAssertEqual(p.rgb, [1, 0, 0, 44, 1, 0])
    }
}
