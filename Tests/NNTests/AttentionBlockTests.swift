import Base
import NN
import Tensor
import XCTest

/// Inference computes attention in blocks of queries where the whole score matrix would be
/// large; every output row must equal the unblocked computation's.
final class AttentionBlockTests: XCTestCase {
    func testBlockedInferenceEqualsWholeScoreMatrix() {
        // N=2 images, H=2 heads, L=S=2100: 4 x 2100 x 2100 = 17.6 M scores, above the block
        // limit (16 Mi), so inference takes two blocks of queries (1997 + 103 rows).
        let n = 2, h = 2, l = 2100, s = 2100, d = 3
        XCTAssertLessThan(AttentionBlocks.blockElements / (n * h * s), l, "the case must be blocked")
        var rng = SplitMix64(seed: 7)
        let q = Tensor.uniform([l, n, h * d], low: -2, high: 2, using: &rng)
        let k = Tensor.uniform([s, n, h * d], low: -2, high: 2, using: &rng)
        let v = Tensor.uniform([s, n, h * d], low: -1, high: 1, using: &rng)
        let attentionMask = Tensor.uniform([l, s], low: -1, high: 0, using: &rng)
        // The second image's last 300 keys are padding.
        let padding = BoolTensor((0..<(n * s)).map { $0 >= s + s - 300 }, shape: [n, s])
        var ctx = ForwardContext.inference
        let blocked = withNoGrad {
            scaledDotProductAttention(q: q, k: k, v: v, heads: h, keyPaddingMask: padding, attentionMask: attentionMask,
                                      dropout: 0.1, &ctx)
        }
        XCTAssertNil(blocked.weights)
        // Asking for the weights takes the unblocked path.
        let whole = withNoGrad {
            scaledDotProductAttention(q: q, k: k, v: v, heads: h, keyPaddingMask: padding, attentionMask: attentionMask,
                                      dropout: 0.1, needWeights: true, &ctx)
        }
        XCTAssertEqual(whole.weights?.shape, [n * h, l, s])
        XCTAssertEqual(blocked.output.shape, [l, n, h * d])
        let a = blocked.output.scalars, b = whole.output.scalars
        var worst: Float = 0
        for i in a.indices { worst = max(worst, abs(a[i] - b[i])) }
        XCTAssertLessThan(worst, 1e-6)
        // And the padded keys are ignored: the second image's output is the attention over its
        // first S - 300 keys alone.
        let kept = 0..<(s - 300)
        let alone = withNoGrad {
            scaledDotProductAttention(q: q.slice(axis: 1, 1..<2), k: k.slice(axis: 1, 1..<2).slice(axis: 0, kept),
                                      v: v.slice(axis: 1, 1..<2).slice(axis: 0, kept), heads: h,
                                      attentionMask: attentionMask.slice(axis: 1, kept), dropout: 0, &ctx)
        }
        let second = blocked.output.slice(axis: 1, 1..<2).scalars, reference = alone.output.scalars
        worst = 0
        for i in second.indices { worst = max(worst, abs(second[i] - reference[i])) }
        XCTAssertLessThan(worst, 1e-5)
    }
}
