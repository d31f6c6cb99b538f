import Foundation
import Model
import Tensor
import TestSupport
import XCTest

/// PostProcess against DETR's PostProcess re-stated in PyTorch, and its top-k / threshold options.
final class PostProcessTests: XCTestCase {
    struct File: Decodable {
        let logits: EncodedTensor
        let boxes: EncodedTensor
        let sizes: [[Int]]
        let scores: [[Float]]
        let labels: [[Int]]
        let pixel_boxes: [EncodedTensor]
    }

    func load() throws -> (File, DETROutput, [(height: Int, width: Int)]) {
        let f = try TestPaths.decodeFixture(File.self, "postprocess.json")
        return (f, DETROutput(logits: f.logits.tensor, boxes: f.boxes.tensor), f.sizes.map { (height: $0[0], width: $0[1]) })
    }

    func testPostProcess_MatchesReference() throws {
        let (f, out, sizes) = try load()
        let dets = try PostProcess()(out, imageSizes: sizes)
        XCTAssertEqual(dets.count, 2)
        for (b, image) in dets.enumerated() {
            XCTAssertEqual(image.map(\.query), Array(0..<7), "all queries in query order")
            XCTAssertEqual(image.map(\.label), f.labels[b])
            assertClose(image.map(\.score), f.scores[b], atol: 1e-6, rtol: 1e-5, "scores \(b)")
            let boxes = image.flatMap { [$0.box.x0, $0.box.y0, $0.box.x1, $0.box.y1] }
            assertClose(boxes, f.pixel_boxes[b].data, atol: 1e-3, rtol: 1e-5, "boxes \(b)")
        }
    }

    func testPostProcess_TopKAndThreshold() throws {
        let (f, out, sizes) = try load()
        let all = try PostProcess()(out, imageSizes: sizes)
        let top = try PostProcess(topK: 3)(out, imageSizes: sizes)
        for b in 0..<2 {
            let sorted = all[b].sorted { $0.score > $1.score }
            XCTAssertEqual(top[b], Array(sorted.prefix(3)))
        }
        let threshold = f.scores[0].sorted()[3]
        let kept = try PostProcess(scoreThreshold: threshold)(out, imageSizes: sizes)
        XCTAssertEqual(kept[0].count, 3, "strictly above the threshold")
        XCTAssertTrue(kept[0].allSatisfy { $0.score > threshold })
        XCTAssertEqual(kept[0].map(\.query), kept[0].map(\.query).sorted())
        let both = try PostProcess(topK: 1, scoreThreshold: threshold)(out, imageSizes: sizes)
        XCTAssertEqual(both[0].count, 1)
        XCTAssertEqual(both[0].first?.score, f.scores[0].max())
        XCTAssertEqual(try PostProcess(topK: 0)(out, imageSizes: sizes)[1], [])
    }

    func testPostProcess_NeverPicksNoObject() throws {
        // "No object" has the largest logit; the best real class is still reported.
        let logits = Tensor([0, 1, 9], shape: [1, 1, 3])
        let out = DETROutput(logits: logits, boxes: Tensor([0.5, 0.5, 1, 1], shape: [1, 1, 4]))
        let d = try PostProcess()(out, imageSizes: [(height: 10, width: 20)])[0][0]
        XCTAssertEqual(d.label, 1)
        XCTAssertEqual(d.box, DetectionBox(x0: 0, y0: 0, x1: 20, y1: 10))
    }

    func testPostProcess_Errors() {
        let out = DETROutput(logits: Tensor.zeros([2, 3, 4]), boxes: Tensor.zeros([2, 3, 4]))
        XCTAssertThrowsError(try PostProcess()(out, imageSizes: [(height: 1, width: 1)]))
        XCTAssertThrowsError(try PostProcess(topK: -1)(out, imageSizes: [(height: 1, width: 1), (height: 1, width: 1)]))
        XCTAssertThrowsError(try PostProcess()(DETROutput(logits: Tensor.zeros([2, 3, 4]), boxes: Tensor.zeros([2, 3])), imageSizes: []))
    }
}
