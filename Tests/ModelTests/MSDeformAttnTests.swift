import Base
import Model
import NN
import Tensor
import TestSupport
import XCTest

/// The MSDeformAttn layer against the official module (fixture from
/// scripts/fixtures/ms_deform_attn_reference.py): its reset parameters, its output and gradients
/// with weights from the seeded official-state filler; and its keys at the paper's sizes.
final class MSDeformAttnTests: XCTestCase {
    struct Fixture: Decodable {
        struct Config: Decodable { let d_model, levels, heads, points: Int }
        let config: Config
        let reset_sampling_offsets_bias: EncodedTensor
        let seed: UInt64
        let keys: [String]
        let ranges: [String: [Double]]
        let shapes: [String: [Int]]
        let input_seed: UInt64
        let queries: Int
        let spatial_shapes: [[Int]]
        let level_start_index: [Int]
        let mask: [Bool]
        let output, grad_query, grad_reference_points: EncodedTensor
        let grad_input: HFParity.Sampled
        let grads: [String: HFParity.Sampled]
    }

    func testKeysAndShapes_PaperSizes() {
        var rng = SplitMix64(seed: 0)
        let layer = MSDeformAttn(using: &rng)
        let shapes = layer.namedState().map { "\($0.key) \($0.tensor.shape)" }
        XCTAssertEqual(shapes, ["sampling_offsets.weight [256, 256]", "sampling_offsets.bias [256]",
                                "attention_weights.weight [128, 256]", "attention_weights.bias [128]",
                                "value_proj.weight [256, 256]", "value_proj.bias [256]",
                                "output_proj.weight [256, 256]", "output_proj.bias [256]"])
    }

    func testResetParameters_MatchOfficial() throws {
        let f = try TestPaths.decodeFixture(Fixture.self, "ms_deform_attn_layer.json")
        let c = f.config
        var rng = SplitMix64(seed: 5)
        let layer = MSDeformAttn(dModel: c.d_model, levels: c.levels, heads: c.heads, points: c.points, using: &rng)
        assertClose(layer.samplingOffsets.bias!.scalars, f.reset_sampling_offsets_bias.data, atol: 1e-6, rtol: 0, "sampling_offsets.bias")
        for t in [layer.samplingOffsets.weight, layer.attentionWeights.weight, layer.attentionWeights.bias!,
                  layer.valueProj.bias!, layer.outputProj.bias!] {
            XCTAssertTrue(t.scalars.allSatisfy { $0 == 0 })
        }
        // xavier_uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out)).
        let bound = (6 / Float(2 * c.d_model)).squareRoot()
        for t in [layer.valueProj.weight, layer.outputProj.weight] {
            XCTAssertLessThanOrEqual(t.scalars.map { Swift.abs($0) }.max()!, bound)
            XCTAssertGreaterThan(t.scalars.map { Swift.abs($0) }.max()!, bound * 0.9)
        }
    }

    func testMatchesOfficialModule() throws {
        let f = try TestPaths.decodeFixture(Fixture.self, "ms_deform_attn_layer.json")
        let c = f.config
        var rng = SplitMix64(seed: 5)
        let layer = MSDeformAttn(dModel: c.d_model, levels: c.levels, heads: c.heads, points: c.points, using: &rng)
        try layer.load(HFParity.filledState(keys: f.keys, shapes: f.shapes, ranges: f.ranges, seed: f.seed))
        let shapes: [(height: Int, width: Int)] = f.spatial_shapes.map { ($0[0], $0[1]) }
        let s = shapes.map { $0.height * $0.width }.reduce(0, +)
        // The script's draws: query, reference points, input, then the output's weights w.
        var inputs = SplitMix64(seed: f.input_seed)
        let query = Tensor.uniform([2, f.queries, c.d_model], low: -1, high: 1, using: &inputs, requiresGrad: true)
        let reference = Tensor.uniform([2, f.queries, c.levels, 2], low: 0, high: 1, using: &inputs, requiresGrad: true)
        let source = Tensor.uniform([2, s, c.d_model], low: -1, high: 1, using: &inputs, requiresGrad: true)
        let w = Tensor.uniform([2, f.queries, c.d_model], low: -1, high: 1, using: &inputs)
        for backend in [DeformableAttentionBackend.fused, .reference] {
            layer.backend = backend
            for t in [query, reference, source] + layer.parameters() { t.grad = nil }
            let out = layer(query: query, referencePoints: reference, input: source, spatialShapes: shapes,
                            levelStartIndex: f.level_start_index, paddingMask: BoolTensor(f.mask, shape: [2, s]))
            (out * w).sum().backward()
            assertClose(out.scalars, f.output.data, rtol: 1e-5, "\(backend) output")
            assertClose(query.grad!.scalars, f.grad_query.data, rtol: 1e-5, "\(backend) query gradient")
            assertClose(reference.grad!.scalars, f.grad_reference_points.data, rtol: 1e-5, "\(backend) reference point gradient")
            let sampled = stride(from: 0, to: source.count, by: f.grad_input.stride).map { source.grad!.data[$0] }
            assertClose(sampled, f.grad_input.data, rtol: 1e-5, "\(backend) input gradient")
            let params = Dictionary(uniqueKeysWithValues: layer.namedParameters().map { ($0.key, $0.tensor) })
            for (key, want) in f.grads {
                let g = params[key]!.grad!
                assertClose(stride(from: 0, to: g.count, by: want.stride).map { g.data[$0] }, want.data, rtol: 1e-5, "\(backend) \(key) gradient")
            }
        }
    }
}
