import Base
import Foundation
import Model
import NN
import Tensor
import TestSupport
import XCTest

/// What the parity tests against Hugging Face transformers share (fixtures from
/// scripts/fixtures/*_hf_reference.py): the model size, the weights regenerated from a SplitMix64
/// stream (only inputs and outputs are stored), the two padded input images and the comparisons.
enum HFParity {
    /// A gradient as stored: its shape and every stride-th element.
    struct Sampled: Decodable {
        let shape: [Int]
        let stride: Int
        let data: [Float]
    }

    struct Target: Decodable {
        let labels: [Int]
        let boxes: [Float]
    }

    /// What a detection fixture's model is given: the rule of its weights (key order, shapes,
    /// value ranges, stream seed), the images' seed, the padding mask and the targets.
    struct Inputs: Decodable {
        let seed: UInt64
        let keys: [String]
        let ranges: [String: [Double]]
        let shapes: [String: [Int]]
        let image_seed: UInt64
        let mask: [Bool]
        let targets: [Target]

        var state: [String: Tensor] { filledState(keys: keys, shapes: shapes, ranges: ranges, seed: seed) }
        var images: Tensor { HFParity.images(seed: image_seed) }
        /// True on padding, [2, 64, 96].
        var paddingMask: BoolTensor { BoolTensor(mask, shape: [2, 64, 96]) }
        var detrTargets: [DETRTarget] {
            targets.map { DETRTarget(labels: $0.labels, boxes: Tensor($0.boxes, shape: [$0.labels.count, 4])) }
        }
    }

    /// A detection fixture: the inputs, and what the family's test expects, both read from the
    /// same JSON object.
    struct Fixture<Expected: Decodable>: Decodable {
        let inputs: Inputs
        let expected: Expected

        init(from decoder: Decoder) throws {
            inputs = try Inputs(from: decoder)
            expected = try Expected(from: decoder)
        }

        static func load(_ name: String) throws -> Fixture { try TestPaths.decodeFixture(Fixture.self, name) }
    }

    /// The detection fixtures' model: ResNet-50 (frozen batch norm), d_model 64, 4 heads, 2+2
    /// layers, FFN 128, 7 queries, 3 classes, no dropout.
    static func config<C: TransformerDetectorConfig>(_ family: C.Type) -> C {
        var c = C().sized(dModel: 64, heads: 4, feedForward: 128, encoderLayers: 2, decoderLayers: 2, queries: 7, dropout: 0)
        c.numClasses = 3
        return c
    }

    /// Uniform values of the SplitMix64 stream, as the fixture script draws them (in Double).
    static func stream(_ rng: inout SplitMix64, _ n: Int, low: Double, high: Double) -> [Float] {
        (0..<n).map { _ in Float(low + (high - low) * Double(rng.next() >> 40) * (1.0 / 16_777_216.0)) }
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

    /// Shape equal and max |got - want| below `atol`.
    static func assertClose(_ got: Tensor, _ want: EncodedTensor, _ what: String, atol: Float = 1e-4) {
        XCTAssertEqual(got.shape, want.shape, what)
        let worst = zip(got.scalars, want.data).map { Swift.abs($0 - $1) }.max() ?? 0
        XCTAssertLessThan(worst, atol, "\(what): max abs difference \(worst)")
    }

    /// |a - b| / |b| (|b| at least 1e-8), for losses.
    static func relativeError(_ a: Float, _ b: Double) -> Double { Swift.abs(Double(a) - b) / Swift.max(Swift.abs(b), 1e-8) }

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
