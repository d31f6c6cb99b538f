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
    struct Encoded: Decodable {
        let shape: [Int]
        let data: [Float]
    }

    struct Sampled: Decodable {
        let shape: [Int]
        let stride: Int
        let data: [Float]
    }

    struct Target: Decodable {
        let labels: [Int]
        let boxes: [Float]
    }

    struct Layer: Decodable {
        let logits: Encoded
        let boxes: Encoded
    }

    struct Reference: Decodable {
        let seed: UInt64
        let keys: [String]
        let ranges: [String: [Double]]
        let shapes: [String: [Int]]
        let image_seed: UInt64
        let mask: [Bool]
        let targets: [Target]
        let logits: Encoded
        let boxes: Encoded
        let aux: [Layer]
        let losses: [String: Double]
        let loss: Double
        let indices: [[[Int]]]
        let grads: [String: Sampled]
    }

    static func reference() throws -> Reference {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/detr_hf_reference.json")
        return try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }

    /// The fixture's model: ResNet-50, d_model 64, 4 heads, 2+2 layers, FFN 128, 7 queries, 3 classes.
    static func config() -> DETRConfig {
        var c = DETRConfig()
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

    /// Uniform values of the SplitMix64 stream, as the fixture script draws them (in Double).
    static func stream(_ rng: inout SplitMix64, _ n: Int, low: Double, high: Double) -> [Float] {
        (0..<n).map { _ in Float(low + (high - low) * Double(rng.next() >> 40) * (1.0 / 16_777_216.0)) }
    }

    static func model(_ ref: Reference, auxLoss: Bool = true) throws -> DETR {
        var init_ = SplitMix64(seed: 0)
        var c = config()
        c.auxLoss = auxLoss
        let model = DETR(c, using: &init_)
        try model.load(filledState(keys: ref.keys, shapes: ref.shapes, ranges: ref.ranges, seed: ref.seed))
        return model
    }

    /// Every tensor of an official state dict, in sorted key order, filled uniformly in its
    /// range from the SplitMix64 stream `seed` (the fixture scripts' rule).
    static func filledState(keys: [String], shapes: [String: [Int]], ranges: [String: [Double]], seed: UInt64) -> [String: Tensor] {
        var rng = SplitMix64(seed: seed)
        var state: [String: Tensor] = [:]
        for key in keys {
            let shape = shapes[key]!, range = ranges[key]!
            state[key] = Tensor(stream(&rng, shape.reduce(1, *), low: range[0], high: range[1]), shape: shape)
        }
        return state
    }

    static func images(_ ref: Reference) -> Tensor { images(seed: ref.image_seed) }

    /// Image 0 fills 2x3x64x96, image 1 its 48x80 top-left corner, uniform in [-1, 1) from `seed`.
    static func images(seed: UInt64) -> Tensor {
        var rng = SplitMix64(seed: seed)
        let img = Tensor.zeros([2, 3, 64, 96])
        let first = stream(&rng, 3 * 64 * 96, low: -1, high: 1)
        for i in 0..<first.count { img.data[i] = first[i] }
        let second = stream(&rng, 3 * 48 * 80, low: -1, high: 1)
        for c in 0..<3 { for y in 0..<48 { for x in 0..<80 {
            img.data[((3 + c) * 64 + y) * 96 + x] = second[(c * 48 + y) * 80 + x]
        } } }
        return img
    }

    func assertClose(_ got: Tensor, _ want: Encoded, _ what: String, atol: Float = 1e-4) {
        Self.assertClose(got, want, what, atol: atol)
    }

    /// Shape equal and max |got - want| below `atol`.
    static func assertClose(_ got: Tensor, _ want: Encoded, _ what: String, atol: Float = 1e-4) {
        XCTAssertEqual(got.shape, want.shape, what)
        let worst = zip(got.scalars, want.data).map { Swift.abs($0 - $1) }.max() ?? 0
        XCTAssertLessThan(worst, atol, "\(what): max abs difference \(worst)")
    }

    func testForward_MatchesTransformers() throws {
        let ref = try Self.reference()
        let model = try Self.model(ref)
        var ctx = ForwardContext.inference
        let out = withNoGrad { model(images: Self.images(ref), mask: BoolTensor(ref.mask, shape: [2, 64, 96]), &ctx) }
        assertClose(out.logits, ref.logits, "logits")
        assertClose(out.boxes, ref.boxes, "boxes")
        XCTAssertEqual(out.aux.count, ref.aux.count)
        for (i, (a, r)) in zip(out.aux, ref.aux).enumerated() {
            assertClose(a.logits, r.logits, "aux \(i) logits")
            assertClose(a.boxes, r.boxes, "aux \(i) boxes")
        }
    }

    /// Losses, matching and parameter gradients against transformers' loss (its DetrLoss with
    /// the Hungarian matcher, costs 1/5/2, weights 1/5/2, eos 0.1), auxiliary loss off.
    func testLossesAndGradients_MatchTransformers() throws {
        let ref = try Self.reference()
        let model = try Self.model(ref, auxLoss: false)
        var ctx = ForwardContext(training: true)
        let out = model(images: Self.images(ref), mask: BoolTensor(ref.mask, shape: [2, 64, 96]), &ctx)
        let targets = ref.targets.map { DETRTarget(labels: $0.labels, boxes: Tensor($0.boxes, shape: [$0.labels.count, 4])) }
        let criterion = Self.config().makeCriterion()
        let losses = try criterion(out, targets)
        XCTAssertEqual(losses.indices.map { [$0.queries, $0.targets] }, ref.indices, "matching")
        func rel(_ a: Float, _ b: Double) -> Double { Swift.abs(Double(a) - b) / Swift.max(Swift.abs(b), 1e-8) }
        XCTAssertLessThan(rel(losses.main.ce.item, ref.losses["loss_ce"]!), 1e-4, "loss_ce")
        XCTAssertLessThan(rel(losses.main.bbox.item, ref.losses["loss_bbox"]!), 1e-4, "loss_bbox")
        XCTAssertLessThan(rel(losses.main.giou.item, ref.losses["loss_giou"]!), 1e-4, "loss_giou")
        XCTAssertEqual(Double(losses.main.cardinalityError), ref.losses["cardinality_error"]!, accuracy: 1e-6)
        XCTAssertLessThan(rel(losses.total.item, ref.loss), 1e-4, "total")
        losses.total.backward()
        Self.assertGradients(model, ref.grads)
    }

    /// Each named parameter's gradient against the reference's sampled values (every stride-th
    /// element): max difference within 1e-3 of the largest reference value.
    static func assertGradients(_ model: Module, _ grads: [String: Sampled]) {
        let params = Dictionary(uniqueKeysWithValues: model.namedState().map { ($0.key, $0.tensor) })
        for (key, want) in grads.sorted(by: { $0.key < $1.key }) {
            guard let g = params[key]?.grad else {
                XCTFail("\(key): no gradient")
                continue
            }
            XCTAssertEqual(g.shape, want.shape, key)
            let sampled = stride(from: 0, to: g.count, by: want.stride).map { g.data[$0] }
            XCTAssertEqual(sampled.count, want.data.count, key)
            let scale = want.data.map { Swift.abs($0) }.max() ?? 1
            let worst = zip(sampled, want.data).map { Swift.abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(worst / Swift.max(scale, 1e-12), 1e-3, "\(key): max difference \(worst) for gradients up to \(scale)")
        }
    }
}
