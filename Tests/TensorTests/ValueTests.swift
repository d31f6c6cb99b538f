import Tensor
import XCTest

/// Forward values of the simple ops (exact arithmetic cases).
final class ValueTests: XCTestCase {
    func t(_ v: [Float], _ s: [Int]) -> Tensor { Tensor(v, shape: s) }

    func testBroadcastValues() {
        XCTAssertEqual((t([1, 2, 3, 4, 5, 6], [2, 3]) + t([10, 20, 30], [3])).scalars, [11, 22, 33, 14, 25, 36])
        XCTAssertEqual((t([1, 2], [2, 1]) * t([1, 10, 100], [1, 3])).scalars, [1, 10, 100, 2, 20, 200])
        XCTAssertEqual(broadcastShape([2, 1, 3], [4, 1]), [2, 4, 3])
        XCTAssertNil(broadcastShape([2, 3], [4, 3]))
    }

    /// Broadcast products against a naive index computation, for shape pairs whose dimensions
    /// merge in the kernel (a weight times a per-channel scale) and pairs that do not.
    func testBroadcastMatchesNaiveIndexing() {
        let pairs: [([Int], [Int])] = [([4, 3, 2, 2], [4, 1, 1, 1]), ([2, 1, 3], [1, 4, 3]), ([5, 1], [1, 6]),
                                       ([2, 3, 4, 5], [1, 3, 1, 5]), ([3, 4, 5], [5]), ([1, 1, 7], [2, 3, 1]),
                                       ([2, 2, 1, 3], [2, 1, 4, 3]), ([6], [1])]
        for (sa, sb) in pairs {
            let na = sa.reduce(1, *), nb = sb.reduce(1, *)
            let a = t((0..<na).map { Float($0 % 13) - 6 }, sa), b = t((0..<nb).map { Float($0 % 7) + 1 }, sb)
            let shape = broadcastShape(sa, sb)!
            let n = shape.reduce(1, *)
            func index(_ flat: Int, into s: [Int]) -> Int {
                // The element of a tensor of shape `s` (right-aligned, broadcast) at output index `flat`.
                var rem = flat, idx = 0, step = 1
                for d in stride(from: shape.count - 1, through: 0, by: -1) {
                    let i = rem % shape[d]
                    rem /= shape[d]
                    let k = d - (shape.count - s.count)
                    if k >= 0 {
                        if s[k] != 1 { idx += i * step }
                        step *= s[k]
                    }
                }
                return idx
            }
            let want = (0..<n).map { a.scalars[index($0, into: sa)] * b.scalars[index($0, into: sb)] }
            XCTAssertEqual((a * b).scalars, want, "\(sa) * \(sb)")
            XCTAssertEqual((b * a).scalars, want, "\(sb) * \(sa)")
            XCTAssertEqual((a * b).shape, shape)
        }
    }

    func testShapeValues() {
        let a = t([0, 1, 2, 3, 4, 5], [2, 3])
        XCTAssertEqual(a.transpose(0, 1).scalars, [0, 3, 1, 4, 2, 5])
        XCTAssertEqual(a.slice(axis: 1, 1..<3).scalars, [1, 2, 4, 5])
        XCTAssertEqual(a.slice(axis: 1, 0..<3, step: 2).scalars, [0, 2, 3, 5])
        XCTAssertEqual(Tensor.cat([a, a], axis: 0).shape, [4, 3])
        XCTAssertEqual(Tensor.cat([a, t([9, 9], [2, 1])], axis: 1).scalars, [0, 1, 2, 9, 3, 4, 5, 9])
        XCTAssertEqual(a.pad([(1, 1)], value: -1).scalars, [-1, 0, 1, 2, -1, -1, 3, 4, 5, -1])
        XCTAssertEqual(t([1, 2], [2]).repeated([2, 2]).scalars, [1, 2, 1, 2, 1, 2, 1, 2])
        XCTAssertEqual(a.expand([2, 2, 3]).scalars, [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5])
        XCTAssertEqual(a.reshape([3, -1]).shape, [3, 2])
        XCTAssertEqual(a.chunk(2, axis: 1).map { $0.shape }, [[2, 2], [2, 1]])
    }

    func testReductionValues() {
        let a = t([3, 1, 2, 6, 5, 4], [2, 3])
        XCTAssertEqual(a.sum().item, 21)
        XCTAssertEqual(a.sum(axis: 0).scalars, [9, 6, 6])
        XCTAssertEqual(a.sum(axis: 1).scalars, [6, 15])
        XCTAssertEqual(a.max(axis: 1).scalars, [3, 6])
        XCTAssertEqual(a.min(axis: 0).scalars, [3, 1, 2])
        XCTAssertEqual(a.argmax(axis: 1).scalars, [0, 0])
        XCTAssertEqual(a.cumsum(axis: 1).scalars, [3, 4, 6, 6, 11, 15])
        let (v, i) = a.topk(2)
        XCTAssertEqual(v.scalars, [3, 2, 6, 5])
        XCTAssertEqual(i.scalars, [0, 2, 0, 1])
        // Softmax rows sum to one and are stable for large logits.
        let s = t([1000, 1001, 1002, -5, 0, 5], [2, 3]).softmax()
        for row in 0..<2 { XCTAssertEqual(s.scalars[(row * 3)..<(row * 3 + 3)].reduce(0, +), 1, accuracy: 1e-6) }
        XCTAssertEqual(s.scalars[2], 0.66524096, accuracy: 1e-6)
        let ls = t([1000, 1001, 1002], [3]).logSoftmax()
        XCTAssertEqual(ls.scalars[2], -0.40760596, accuracy: 1e-5)
    }

    func testMatmulValues() {
        let a = t([1, 2, 3, 4, 5, 6], [2, 3]), b = t([7, 8, 9, 10, 11, 12], [3, 2])
        XCTAssertEqual(a.matmul(b).scalars, [58, 64, 139, 154])
        XCTAssertEqual(a.linear(weight: b.transpose(0, 1), bias: t([1, -1], [2])).scalars, [59, 63, 140, 153])
        let batched = Tensor.stack([a, a * 2]).matmul(b)
        XCTAssertEqual(batched.scalars, [58, 64, 139, 154, 116, 128, 278, 308])
    }

    func testAllocatorReusesBuffers() {
        _ = Tensor.zeros([1000, 1000])
        let before = Allocator.statistics
        for _ in 0..<5 { _ = Tensor.zeros([1000, 1000]) }
        let after = Allocator.statistics
        XCTAssertEqual(after.misses, before.misses, "a freed buffer of the same size is reused")
        XCTAssertGreaterThanOrEqual(after.hits - before.hits, 5)
    }
}
