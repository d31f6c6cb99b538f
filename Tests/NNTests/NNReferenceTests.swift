import Base
import Foundation
import NN
import Tensor
import TestSupport
import XCTest

/// NN against PyTorch (fixtures from scripts/fixtures/nn_reference.py).
final class NNReferenceTests: XCTestCase {
    struct Encoded: Decodable {
        let shape: [Int]
        let data: [Float]
        var tensor: Tensor { Tensor(data, shape: shape) }
    }

    struct MHACase: Decodable {
        let state: [String: Encoded]
        let query, key, value, attn_mask, output, weights, out_weight, grad_query, grad_key, grad_value: Encoded
        let key_padding_mask: [Bool]
        let grads: [String: Encoded]
    }

    struct OptCase: Decodable {
        let grads: [[[Float]]]
        let p1: [Float]
        let p2: [Float]
    }

    struct Clip: Decodable {
        let norm: Float
        let a: [Float]
        let b: [Float]
    }

    struct Reference: Decodable {
        let mha: MHACase
        let mha_vdim: MHACase
        let adamw: OptCase
        let sgd: OptCase
        let sgd_nesterov: OptCase
        let adamw_late: OptCase
        let sgd_late: OptCase
        let clip: Clip
        let cos: [Double]
        let safetensors: [String: Encoded]
    }

    static let fixtures = URL(fileURLWithPath: TestPaths.fixtures())

    static func reference() throws -> Reference {
        try JSONDecoder().decode(Reference.self, from: Data(contentsOf: fixtures.appendingPathComponent("nn_reference.json")))
    }

    func assertClose(_ got: Tensor, _ want: Encoded, _ what: String, tol: Float = 1e-5) {
        XCTAssertEqual(got.shape, want.shape, what)
        guard got.shape == want.shape else { return }
        let worst = zip(got.scalars, want.data).map { Swift.abs($0 - $1) / Swift.max(1, Swift.abs($1)) }.max() ?? 0
        XCTAssertLessThan(worst, tol, what)
    }

    func checkMHA(_ c: MHACase, kdim: Int?, vdim: Int?, heads: Int) throws {
        var rng = SplitMix64(seed: 1)
        let mha = MultiheadAttention(embedDim: c.query.shape[2], heads: heads, kdim: kdim, vdim: vdim, using: &rng)
        try mha.load(c.state.mapValues { $0.tensor })
        let q = c.query.tensor, k = c.key.tensor, v = c.value.tensor
        for t in [q, k, v] { t.requiresGrad = true }
        var ctx = ForwardContext.inference
        let n = q.shape[1], s = k.shape[0]
        let (out, w) = mha(query: q, key: k, value: v, keyPaddingMask: BoolTensor(c.key_padding_mask, shape: [n, s]),
                           attentionMask: c.attn_mask.tensor, needWeights: true, &ctx)
        assertClose(out, c.output, "output")
        assertClose(try XCTUnwrap(w), c.weights, "attention weights")
        (out * c.out_weight.tensor).sum().backward()
        assertClose(q.grad!, c.grad_query, "grad query", tol: 1e-4)
        assertClose(k.grad!, c.grad_key, "grad key", tol: 1e-4)
        assertClose(v.grad!, c.grad_value, "grad value", tol: 1e-4)
        let params = Dictionary(uniqueKeysWithValues: mha.namedState().map { ($0.key, $0.tensor) })
        XCTAssertEqual(Set(params.keys), Set(c.grads.keys))
        for (key, want) in c.grads { assertClose(params[key]!.grad!, want, "grad \(key)", tol: 1e-4) }
    }

    func testMultiheadAttention_MatchesPyTorch() throws {
        let ref = try Self.reference()
        try checkMHA(ref.mha, kdim: nil, vdim: nil, heads: 4)
        try checkMHA(ref.mha_vdim, kdim: 8, vdim: 12, heads: 2)
    }

    func runOptimizer(_ c: OptCase, _ make: ([ParameterGroup]) -> Optimizer) {
        let p1 = Tensor([0.5, -1.0, 2.0, 0.0], shape: [4], requiresGrad: true)
        let p2 = Tensor([1.0, -2.0, 0.25, 3.0], shape: [2, 2], requiresGrad: true)
        let opt = make([ParameterGroup(parameters: [p1], learningRate: 1e-2, weightDecay: 1e-4),
                        ParameterGroup(parameters: [p2], learningRate: 1e-3, weightDecay: 0.1)])
        for g in c.grads {
            p1.grad = Tensor(g[0], shape: [4])
            p2.grad = g[1].isEmpty ? nil : Tensor(g[1], shape: [2, 2])
            opt.step()
        }
        for (a, b) in zip(p1.scalars, c.p1) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        for (a, b) in zip(p2.scalars, c.p2) { XCTAssertEqual(a, b, accuracy: 1e-6) }
    }

    func testOptimizers_MatchPyTorch() throws {
        let ref = try Self.reference()
        runOptimizer(ref.adamw) { AdamW(groups: $0) }
        runOptimizer(ref.sgd) { SGD(groups: $0, momentum: 0.9) }
        runOptimizer(ref.sgd_nesterov) { SGD(groups: $0, momentum: 0.9, nesterov: true) }
        // A parameter whose gradients start late (a backbone unfrozen after a freeze phase).
        runOptimizer(ref.adamw_late) { AdamW(groups: $0) }
        runOptimizer(ref.sgd_late) { SGD(groups: $0, momentum: 0.9) }
    }

    /// AdamW's eight-lane loop gives bit for bit what its scalar loop gives: a 37-element
    /// parameter (four blocks of eight and a tail) against 37 one-element parameters.
    func testAdamW_VectorLoopEqualsScalarLoop() {
        var rng = SplitMix64(seed: 3)
        func values(_ n: Int) -> [Float] { (0..<n).map { _ in Float(Int(rng.next() % 2001) - 1000) / 500 } }
        let start = values(37)
        let whole = Tensor(start, shape: [37], requiresGrad: true)
        let singles = start.map { Tensor([$0], shape: [1], requiresGrad: true) }
        let a = AdamW(groups: [ParameterGroup(parameters: [whole], learningRate: 1e-2, weightDecay: 0.05)])
        let b = AdamW(groups: [ParameterGroup(parameters: singles, learningRate: 1e-2, weightDecay: 0.05)])
        for _ in 0..<4 {
            let g = values(37)
            whole.grad = Tensor(g, shape: [37])
            for (t, x) in zip(singles, g) { t.grad = Tensor([x], shape: [1]) }
            a.step()
            b.step()
        }
        XCTAssertEqual(whole.scalars, singles.map { $0.scalars[0] })
        XCTAssertNotEqual(whole.scalars, start)
    }

    func testClipGradNorm_MatchesPyTorch() throws {
        let ref = try Self.reference()
        let a = Tensor([3, 4], shape: [2], requiresGrad: true), b = Tensor([12], shape: [1, 1], requiresGrad: true)
        a.grad = Tensor([3, 4], shape: [2])
        b.grad = Tensor([12], shape: [1, 1])
        XCTAssertEqual(clipGradNorm([a, b], maxNorm: 0.1), ref.clip.norm, accuracy: 1e-5)
        for (x, y) in zip(a.grad!.scalars + b.grad!.scalars, ref.clip.a + ref.clip.b) { XCTAssertEqual(x, y, accuracy: 1e-7) }
    }

    func testCosineSchedule_MatchesReference() throws {
        let ref = try Self.reference()
        let s = LRSchedule.cosine(base: 1e-4, minLR: 1e-6, totalIters: 100, warmupIters: 3, warmupStartLR: 1e-6, noAugIters: 15)
        for (i, want) in ref.cos.enumerated() { XCTAssertEqual(Double(s.rate(at: i)), want, accuracy: 1e-10, "iteration \(i)") }
        XCTAssertEqual(LRSchedule.step(base: 1, stepSize: 10, gamma: 0.1).rate(at: 25), 0.01, accuracy: 1e-7)
        XCTAssertEqual(LRSchedule.multiStep(base: 1, milestones: [5, 8], gamma: 0.5).rate(at: 8), 0.25)
    }

    func testSafeTensors_ReadsLibraryFile() throws {
        let ref = try Self.reference()
        let (tensors, metadata) = try SafeTensors.read(Self.fixtures.appendingPathComponent("library.safetensors").path)
        XCTAssertEqual(metadata["format"], "pt")
        XCTAssertEqual(Set(tensors.keys), Set(ref.safetensors.keys))
        for (k, want) in ref.safetensors {
            XCTAssertEqual(tensors[k]!.shape, want.shape, k)
            XCTAssertEqual(tensors[k]!.scalars, want.data, k)
        }
    }
}
