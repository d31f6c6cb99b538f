import Base
import Foundation
import Model
import NN
import Tensor
import XCTest

/// The segmentation head against transformers' DetrForSegmentation on the same regenerated
/// weights (fixture from scripts/fixtures/detr_seg_hf_reference.py).
final class DETRSegmentationParityTests: XCTestCase {
    struct Reference: Decodable {
        let seed: UInt64
        let keys: [String]
        let ranges: [String: [Double]]
        let shapes: [String: [Int]]
        let mask: [Bool]
        let logits: DETRParityTests.Encoded
        let boxes: DETRParityTests.Encoded
        let masks: DETRParityTests.Encoded
    }

    func testMasks_MatchTransformers() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/detr_seg_hf_reference.json")
        let ref = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
        var c = DETRConfig()
        c.dModel = 128
        c.heads = 8
        c.feedForward = 128
        c.encoderLayers = 2
        c.decoderLayers = 2
        c.numQueries = 5
        c.numClasses = 3
        c.dropout = 0
        c.auxLoss = false
        var rng = SplitMix64(seed: 0)
        let model = DETRSegmentation(c, using: &rng)
        var stream = SplitMix64(seed: ref.seed)
        var state: [String: Tensor] = [:]
        for key in ref.keys {
            let shape = ref.shapes[key]!, range = ref.ranges[key]!
            state[key] = Tensor(DETRParityTests.stream(&stream, shape.reduce(1, *), low: range[0], high: range[1]), shape: shape)
        }
        try model.load(state)
        // The images of the detection fixture (the same SplitMix64 seed 7).
        let images = DETRParityTests.images(try DETRParityTests.reference())
        var ctx = ForwardContext.inference
        let out = withNoGrad { model(images: images, mask: BoolTensor(ref.mask, shape: [2, 64, 96]), &ctx) }
        func worst(_ t: Tensor, _ e: DETRParityTests.Encoded) -> Float {
            XCTAssertEqual(t.shape, e.shape)
            return zip(t.scalars, e.data).map { Swift.abs($0 - $1) }.max() ?? 0
        }
        XCTAssertLessThan(worst(out.logits, ref.logits), 1e-4, "logits")
        XCTAssertLessThan(worst(out.boxes, ref.boxes), 1e-4, "boxes")
        XCTAssertNotNil(out.masks)
        if let masks = out.masks { XCTAssertLessThan(worst(masks, ref.masks), 1e-4, "mask logits") }
    }
}
