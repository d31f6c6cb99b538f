import Base
import Foundation
import Model
import NN
import Tensor
import TestSupport
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
        let logits: EncodedTensor
        let boxes: EncodedTensor
        let masks: EncodedTensor
    }

    func testMasks_MatchTransformers() throws {
        let ref = try TestPaths.decodeFixture(Reference.self, "detr_seg_hf_reference.json")
        // The detection fixtures' model, wider (the head's GroupNorm(8) needs d_model + heads
        // divisible by 8) and with 5 queries.
        var c = HFParity.config(DETRConfig.self)
        c.dModel = 128
        c.heads = 8
        c.numQueries = 5
        c.auxLoss = false
        var rng = SplitMix64(seed: 0)
        let model = DETRSegmentation(c, using: &rng)
        try model.load(HFParity.filledState(keys: ref.keys, shapes: ref.shapes, ranges: ref.ranges, seed: ref.seed))
        // The images of the detection fixture (the same SplitMix64 seed 7).
        let images = try DETRParityTests.reference().inputs.images
        var ctx = ForwardContext.inference
        let out = withNoGrad { model(images: images, mask: BoolTensor(ref.mask, shape: [2, 64, 96]), &ctx) }
        HFParity.assertClose(out.logits, ref.logits, "logits")
        HFParity.assertClose(out.boxes, ref.boxes, "boxes")
        XCTAssertNotNil(out.masks)
        if let masks = out.masks { HFParity.assertClose(masks, ref.masks, "mask logits") }
    }
}
