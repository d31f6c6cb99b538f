import Base
import Foundation
import Model
import NN
import Tensor
import XCTest

/// Conditional DETR against Hugging Face transformers' ConditionalDetrForObjectDetection on the
/// same weights (fixture from scripts/fixtures/conditional_detr_hf_reference.py; weights renamed to
/// the official Atten4Vis/ConditionalDETR keys and regenerated here from the same SplitMix64
/// stream). transformers runs with its auxiliary loss off; the fixture rebuilds every layer's
/// output with the official decoder's rule (the un-normed state goes forward, the shared norm and
/// heads give each layer's prediction) and sums 2 focal + 5 L1 + 2 GIoU over all layers.
final class ConditionalDETRParityTests: XCTestCase {
    struct Layer: Decodable {
        let logits: EncodedTensor
        let boxes: EncodedTensor
        let indices: [[[Int]]]
        let loss_ce: Double
        let loss_bbox: Double
        let loss_giou: Double
    }

    struct Expected: Decodable {
        let reference_points: EncodedTensor
        let layers: [Layer]
        let loss: Double
        let grads: [String: HFParity.Sampled]
    }

    static func reference() throws -> HFParity.Fixture<Expected> { try .load("conditional_detr_hf_reference.json") }

    static func config() -> ConditionalDETRConfig { HFParity.config(ConditionalDETRConfig.self) }

    static func model(_ inputs: HFParity.Inputs) throws -> ConditionalDETR {
        var initRng = SplitMix64(seed: 0)
        let model = ConditionalDETR(config(), using: &initRng)
        try model.load(inputs.state)
        return model
    }

    func run(_ inputs: HFParity.Inputs, model: ConditionalDETR, training: Bool) -> DETROutput {
        var ctx = ForwardContext(training: training)
        return model(images: inputs.images, mask: inputs.paddingMask, &ctx)
    }

    func testForward_EveryLayerMatchesTransformers() throws {
        let ref = try Self.reference()
        let model = try Self.model(ref.inputs)
        let out = withNoGrad { run(ref.inputs, model: model, training: false) }
        XCTAssertEqual(out.scoring, .sigmoid)
        let layers = out.aux + [out]
        XCTAssertEqual(layers.count, ref.expected.layers.count)
        for (i, (o, r)) in zip(layers, ref.expected.layers).enumerated() {
            HFParity.assertClose(o.logits, r.logits, "layer \(i) logits")
            HFParity.assertClose(o.boxes, r.boxes, "layer \(i) boxes")
        }
    }

    /// Matching, the focal / L1 / GIoU terms of every layer, the weighted total and gradients
    /// (frozen batch norm: training mode changes nothing but the tape).
    func testLossesAndGradients_MatchTransformers() throws {
        let ref = try Self.reference()
        let expected = ref.expected
        let model = try Self.model(ref.inputs)
        let out = run(ref.inputs, model: model, training: true)
        let targets = ref.inputs.detrTargets
        let losses = try Self.config().makeCriterion()(out, targets)
        let rel = HFParity.relativeError
        let terms = losses.aux + [losses.main]
        XCTAssertEqual(terms.count, expected.layers.count)
        for (i, (t, r)) in zip(terms, expected.layers).enumerated() {
            XCTAssertLessThan(rel(t.ce.item, r.loss_ce), 1e-4, "layer \(i) loss_ce \(t.ce.item) vs \(r.loss_ce)")
            XCTAssertLessThan(rel(t.bbox.item, r.loss_bbox), 1e-4, "layer \(i) loss_bbox")
            XCTAssertLessThan(rel(t.giou.item, r.loss_giou), 1e-4, "layer \(i) loss_giou")
        }
        // The matching of every layer.
        let matcher = Self.config().makeCriterion().matcher
        for (i, (o, r)) in zip(out.aux + [out], expected.layers).enumerated() {
            XCTAssertEqual(try matcher(o, targets).map { [$0.queries, $0.targets] }, r.indices, "layer \(i) matching")
        }
        XCTAssertEqual(losses.terms.map(\.name), ["loss_ce", "loss_bbox", "loss_giou"])
        XCTAssertEqual(losses.terms.map(\.weight), [2, 5, 2])
        XCTAssertLessThan(rel(losses.total.item, expected.loss), 1e-4, "total")
        losses.total.backward()
        HFParity.assertGradients(model, expected.grads)
    }
}
