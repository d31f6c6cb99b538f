import Base
import Model
import Tensor
import XCTest

/// SetCriterion in data-parallel training: each process holds part of the batch and the
/// normalisers are summed over the processes (`globalSum`), so the parts' losses add up to the
/// whole batch's loss and their gradients are the whole batch's gradient.
final class CriterionDataParallelTests: XCTestCase {
    /// The vectors each part passes to `globalSum`, to add the other's (two processes in turn).
    final class Counts: @unchecked Sendable {
        var seen: [[Double]] = [[], []]
    }

    func output(_ logits: Tensor, _ boxes: Tensor, _ auxLogits: Tensor, _ auxBoxes: Tensor, scoring: ClassScoring) -> DETROutput {
        DETROutput(logits: logits, boxes: boxes, aux: [DETROutput(logits: auxLogits, boxes: auxBoxes, scoring: scoring)], scoring: scoring)
    }

    func testLossesOfTwoParts_AddUpToTheWholeBatch() throws {
        for scoring in [ClassScoring.softmax, .sigmoid] {
            var rng = SplitMix64(seed: 21)
            let b = 3, q = 5, classes = 3, width = scoring == .softmax ? classes + 1 : classes
            let tensors = [Tensor.uniform([b, q, width], low: -2, high: 2, using: &rng), Tensor.uniform([b, q, 4], low: 0.2, high: 0.6, using: &rng),
                           Tensor.uniform([b, q, width], low: -2, high: 2, using: &rng), Tensor.uniform([b, q, 4], low: 0.2, high: 0.6, using: &rng)]
            // Image 1 has no boxes.
            let targets = [DETRTarget(labels: [0, 2], boxes: Tensor([0.3, 0.3, 0.2, 0.2, 0.6, 0.5, 0.3, 0.4], shape: [2, 4])),
                           DETRTarget(labels: [], boxes: Tensor.zeros([0, 4])),
                           DETRTarget(labels: [1, 1, 0], boxes: Tensor([0.5, 0.5, 0.4, 0.4, 0.2, 0.7, 0.1, 0.2, 0.8, 0.2, 0.2, 0.3], shape: [3, 4]))]
            var criterion = SetCriterion(numClasses: classes)

            func leaves(_ range: Range<Int>) -> [Tensor] {
                tensors.map { t in Tensor(t.slice(axis: 0, range).scalars, shape: [range.count] + t.shape.dropFirst(), requiresGrad: true) }
            }
            let whole = leaves(0..<b)
            let wholeLoss = try criterion(output(whole[0], whole[1], whole[2], whole[3], scoring: scoring), targets)
            wholeLoss.total.backward()

            let ranges = [0..<1, 1..<3]
            // Each part's own counts, then each part with the other's added.
            let counts = Counts()
            for (k, r) in ranges.enumerated() {
                criterion.globalSum = { counts.seen[k] = $0 }
                let p = leaves(r)
                _ = try criterion(output(p[0], p[1], p[2], p[3], scoring: scoring), Array(targets[r]))
            }
            var total: Float = 0
            var grads: [[Float]] = [[], [], [], []]
            for (k, r) in ranges.enumerated() {
                let other = counts.seen[1 - k]
                criterion.globalSum = { v in v = zip(v, other).map(+) }
                let p = leaves(r)
                let losses = try criterion(output(p[0], p[1], p[2], p[3], scoring: scoring), Array(targets[r]))
                losses.total.backward()
                total += losses.total.item
                for i in 0..<4 { grads[i] += p[i].grad!.scalars }
            }
            XCTAssertEqual(total, wholeLoss.total.item, accuracy: 1e-5 * abs(wholeLoss.total.item), "\(scoring)")
            for i in 0..<4 {
                let expected = whole[i].grad!.scalars
                let worst = zip(grads[i], expected).map { abs($0 - $1) }.max()!
                XCTAssertLessThanOrEqual(worst, 1e-5 * max(expected.map { abs($0) }.max()!, 1e-3), "\(scoring): gradient \(i)")
            }
            // Without the global normalisers the parts would not add up.
            criterion.globalSum = nil
            let alone = ranges.map { r -> Float in
                let p = leaves(r)
                return (try? criterion(output(p[0], p[1], p[2], p[3], scoring: scoring), Array(targets[r])).total.item) ?? 0
            }.reduce(0, +)
            XCTAssertGreaterThan(abs(alone - wholeLoss.total.item), 1e-2, "\(scoring)")
        }
    }
}
