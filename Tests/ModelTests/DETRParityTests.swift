import Base
import Foundation
import Model
import NN
import Tensor
import XCTest

/// DETR against Hugging Face transformers' DetrForObjectDetection on the same weights
/// (fixture from scripts/fixtures/detr_hf_reference.py; the weights are regenerated here from
/// the same SplitMix64 stream, so only inputs and outputs are stored).
final class DETRParityTests: XCTestCase {
    struct Layer: Decodable {
        let logits: EncodedTensor
        let boxes: EncodedTensor
    }

    struct Expected: Decodable {
        let logits: EncodedTensor
        let boxes: EncodedTensor
        let aux: [Layer]
        let losses: [String: Double]
        let loss: Double
        let indices: [[[Int]]]
        let grads: [String: HFParity.Sampled]
    }

    static func reference() throws -> HFParity.Fixture<Expected> { try .load("detr_hf_reference.json") }

    static func model(_ inputs: HFParity.Inputs, auxLoss: Bool = true) throws -> DETR {
        var init_ = SplitMix64(seed: 0)
        var c = HFParity.config(DETRConfig.self)
        c.auxLoss = auxLoss
        let model = DETR(c, using: &init_)
        try model.load(inputs.state)
        return model
    }

    func testForward_MatchesTransformers() throws {
        let ref = try Self.reference()
        let model = try Self.model(ref.inputs)
        var ctx = ForwardContext.inference
        let out = withNoGrad { model(images: ref.inputs.images, mask: ref.inputs.paddingMask, &ctx) }
        HFParity.assertClose(out.logits, ref.expected.logits, "logits")
        HFParity.assertClose(out.boxes, ref.expected.boxes, "boxes")
        XCTAssertEqual(out.aux.count, ref.expected.aux.count)
        for (i, (a, r)) in zip(out.aux, ref.expected.aux).enumerated() {
            HFParity.assertClose(a.logits, r.logits, "aux \(i) logits")
            HFParity.assertClose(a.boxes, r.boxes, "aux \(i) boxes")
        }
    }

    /// Losses, matching and parameter gradients against transformers' loss (its DetrLoss with
    /// the Hungarian matcher, costs 1/5/2, weights 1/5/2, eos 0.1), auxiliary loss off.
    func testLossesAndGradients_MatchTransformers() throws {
        let ref = try Self.reference()
        let expected = ref.expected
        let model = try Self.model(ref.inputs, auxLoss: false)
        var ctx = ForwardContext(training: true)
        let out = model(images: ref.inputs.images, mask: ref.inputs.paddingMask, &ctx)
        let criterion = HFParity.config(DETRConfig.self).makeCriterion()
        let losses = try criterion(out, ref.inputs.detrTargets)
        XCTAssertEqual(losses.indices.map { [$0.queries, $0.targets] }, expected.indices, "matching")
        let rel = HFParity.relativeError
        XCTAssertLessThan(rel(losses.main.ce.item, expected.losses["loss_ce"]!), 1e-4, "loss_ce")
        XCTAssertLessThan(rel(losses.main.bbox.item, expected.losses["loss_bbox"]!), 1e-4, "loss_bbox")
        XCTAssertLessThan(rel(losses.main.giou.item, expected.losses["loss_giou"]!), 1e-4, "loss_giou")
        XCTAssertEqual(Double(losses.main.cardinalityError), expected.losses["cardinality_error"]!, accuracy: 1e-6)
        XCTAssertLessThan(rel(losses.total.item, expected.loss), 1e-4, "total")
        losses.total.backward()
        HFParity.assertGradients(model, expected.grads)
    }
}
