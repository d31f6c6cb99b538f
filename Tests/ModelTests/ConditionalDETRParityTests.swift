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
    typealias Encoded = DETRParityTests.Encoded
    typealias Sampled = DETRParityTests.Sampled

    struct Layer: Decodable {
        let logits: Encoded
        let boxes: Encoded
        let indices: [[[Int]]]
        let loss_ce: Double
        let loss_bbox: Double
        let loss_giou: Double
    }

    struct Reference: Decodable {
        let seed: UInt64
        let keys: [String]
        let ranges: [String: [Double]]
        let shapes: [String: [Int]]
        let image_seed: UInt64
        let mask: [Bool]
        let targets: [DETRParityTests.Target]
        let reference_points: Encoded
        let layers: [Layer]
        let loss: Double
        let grads: [String: Sampled]
    }

    static func reference() throws -> Reference {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/conditional_detr_hf_reference.json")
        return try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }

    /// The fixture's model: ResNet-50 (frozen batch norm), d_model 64, 4 heads, 2+2 layers, FFN 128, 7 queries, 3 classes.
    static func config() -> ConditionalDETRConfig {
        var c = ConditionalDETRConfig()
        c.dModel = 64
        c.heads = 4
        c.feedForward = 128
        c.encoderLayers = 2
        c.decoderLayers = 2
        c.numQueries = 7
        c.numClasses = 3
        c.dropout = 0
        return c
    }

    static func model(_ ref: Reference) throws -> ConditionalDETR {
        var initRng = SplitMix64(seed: 0)
        let model = ConditionalDETR(config(), using: &initRng)
        try model.load(DETRParityTests.filledState(keys: ref.keys, shapes: ref.shapes, ranges: ref.ranges, seed: ref.seed))
        return model
    }

    func assertClose(_ got: Tensor, _ want: Encoded, _ what: String) { DETRParityTests.assertClose(got, want, what) }

    func run(_ ref: Reference, model: ConditionalDETR, training: Bool) -> DETROutput {
        var ctx = ForwardContext(training: training)
        let images = DETRParityTests.images(seed: ref.image_seed)
        return model(images: images, mask: BoolTensor(ref.mask, shape: [2, 64, 96]), &ctx)
    }

    func testForward_EveryLayerMatchesTransformers() throws {
        let ref = try Self.reference()
        let model = try Self.model(ref)
        let out = withNoGrad { run(ref, model: model, training: false) }
        XCTAssertEqual(out.scoring, .sigmoid)
        let layers = out.aux + [out]
        XCTAssertEqual(layers.count, ref.layers.count)
        for (i, (o, r)) in zip(layers, ref.layers).enumerated() {
            assertClose(o.logits, r.logits, "layer \(i) logits")
            assertClose(o.boxes, r.boxes, "layer \(i) boxes")
        }
    }

    /// Matching, the focal / L1 / GIoU terms of every layer, the weighted total and gradients
    /// (frozen batch norm: training mode changes nothing but the tape).
    func testLossesAndGradients_MatchTransformers() throws {
        let ref = try Self.reference()
        let model = try Self.model(ref)
        let out = run(ref, model: model, training: true)
        let targets = ref.targets.map { DETRTarget(labels: $0.labels, boxes: Tensor($0.boxes, shape: [$0.labels.count, 4])) }
        let losses = try Self.config().makeCriterion()(out, targets)
        func rel(_ a: Float, _ b: Double) -> Double { Swift.abs(Double(a) - b) / Swift.max(Swift.abs(b), 1e-8) }
        let terms = losses.aux + [losses.main]
        XCTAssertEqual(terms.count, ref.layers.count)
        for (i, (t, r)) in zip(terms, ref.layers).enumerated() {
            XCTAssertLessThan(rel(t.ce.item, r.loss_ce), 1e-4, "layer \(i) loss_ce \(t.ce.item) vs \(r.loss_ce)")
            XCTAssertLessThan(rel(t.bbox.item, r.loss_bbox), 1e-4, "layer \(i) loss_bbox")
            XCTAssertLessThan(rel(t.giou.item, r.loss_giou), 1e-4, "layer \(i) loss_giou")
        }
        // The matching of every layer.
        let matcher = Self.config().makeCriterion().matcher
        for (i, (o, r)) in zip(out.aux + [out], ref.layers).enumerated() {
            XCTAssertEqual(try matcher(o, targets).map { [$0.queries, $0.targets] }, r.indices, "layer \(i) matching")
        }
        XCTAssertEqual(losses.terms.map(\.name), ["loss_ce", "loss_bbox", "loss_giou"])
        XCTAssertEqual(losses.terms.map(\.weight), [2, 5, 2])
        XCTAssertLessThan(rel(losses.total.item, ref.loss), 1e-4, "total")
        losses.total.backward()
        DETRParityTests.assertGradients(model, ref.grads)
    }
}
