import Foundation
import Tensor
import XCTest

/// Indexing, normalisation and loss ops: gradients against finite differences, loss values and
/// batch-norm running statistics computed by hand.
final class IndexNormLossTests: XCTestCase {
    func r(_ shape: [Int], _ seed: UInt64, low: Float = -2, high: Float = 2, gap: Float = 0) -> Tensor {
        randomTensor(shape, seed: seed, low: low, high: high, gap: gap)
    }

    func testIndexing() {
        checkGradients("gather axis 1", [r([3, 4], 1)]) { $0[0].gather(axis: 1, index: IntTensor([0, 3, 3, 1, 2, 0], shape: [3, 2])) }
        checkGradients("gather axis 0", [r([3, 4], 1)]) { $0[0].gather(axis: 0, index: IntTensor([2, 0, 1, 1], shape: [1, 4])) }
        checkGradients("index_select", [r([4, 3, 2], 2)]) { $0[0].indexSelect(axis: 1, [2, 0, 2]) }
        checkGradients("scatter_add", [r([3, 4], 3), r([3, 2], 4)]) {
            $0[0].scatterAdd(axis: 1, index: IntTensor([1, 1, 0, 3, 2, 2], shape: [3, 2]), source: $0[1])
        }
        checkGradients("masked_fill", [r([2, 3], 5)]) { $0[0].maskedFill(BoolTensor([true, false, true], shape: [1, 3]), -7) }
        checkGradients("where", [r([2, 3], 6), r([3], 7)]) {
            Tensor.where(BoolTensor([true, false, false, true, true, false], shape: [2, 3]), $0[0], $0[1])
        }
        checkGradients("embedding", [r([5, 3], 8)]) { Tensor.embedding($0[0], IntTensor([4, 0, 4, 2], shape: [2, 2])) }
    }

    func testNormalisation() {
        checkGradients("layer_norm", [r([3, 6], 1), r([6], 2), r([6], 3)], rtol: 3e-2) { $0[0].layerNorm(weight: $0[1], bias: $0[2]) }
        checkGradients("group_norm", [r([2, 4, 3, 2], 4), r([4], 5), r([4], 6)], rtol: 3e-2) {
            $0[0].groupNorm(groups: 2, weight: $0[1], bias: $0[2])
        }
        checkGradients("batch_norm train", [r([3, 2, 2, 2], 7), r([2], 8), r([2], 9)], rtol: 3e-2) {
            $0[0].batchNorm(weight: $0[1], bias: $0[2], runningMean: Tensor.zeros([2]), runningVar: Tensor.ones([2]), training: true)
        }
        checkGradients("channel_affine", [r([2, 3, 2, 2], 10), r([3], 11), r([3], 12)]) {
            $0[0].channelAffine(scale: $0[1], shift: $0[2])
        }
    }

    func testLosses() {
        let targets = IntTensor([2, 0, 1, 2])
        checkGradients("cross_entropy", [r([4, 3], 1)]) { Tensor.crossEntropy($0[0], targets) }
        checkGradients("cross_entropy weighted", [r([4, 3], 1)]) {
            Tensor.crossEntropy($0[0], targets, weight: Tensor([1, 0.5, 0.1], shape: [3]))
        }
        let binary = Tensor([1, 0, 0, 1, 1, 0], shape: [2, 3])
        checkGradients("bce_with_logits", [r([2, 3], 2, gap: 0.05)]) { Tensor.binaryCrossEntropyWithLogits($0[0], binary) }
        checkGradients("focal", [r([2, 3], 3, gap: 0.05)]) { Tensor.sigmoidFocalLoss($0[0], binary, reduction: .sum) }
        checkGradients("l1", [r([2, 3], 4), r([2, 3], 5)]) { Tensor.l1Loss($0[0], $0[1]) }
        checkGradients("dice", [r([2, 3], 6)]) { Tensor.diceLoss($0[0], binary) }
    }

    /// Hand-derived values of the losses (each formula evaluated independently).
    func testLossValues() {
        let logits = Tensor([2, 1, 0.1, 0.5, 2.5, -1], shape: [2, 3])
        let t = IntTensor([0, 1])
        // -log softmax: row 0 target 0, row 1 target 1.
        func nll(_ row: [Double], _ k: Int) -> Double { -row[k] + Foundation.log(row.map { Foundation.exp($0) }.reduce(0, +)) }
        let n0 = nll([2, 1, 0.1], 0), n1 = nll([0.5, 2.5, -1], 1)
        XCTAssertEqual(Double(Tensor.crossEntropy(logits, t).item), (n0 + n1) / 2, accuracy: 1e-6)
        let w = Tensor([0.2, 1, 1], shape: [3])
        XCTAssertEqual(Double(Tensor.crossEntropy(logits, t, weight: w).item), (0.2 * n0 + n1) / 1.2, accuracy: 1e-6)
        let x: Float = 0.7
        let p = 1 / (1 + Foundation.exp(-x))
        let bce = Tensor.binaryCrossEntropyWithLogits(Tensor([x], shape: [1]), Tensor([1], shape: [1])).item
        XCTAssertEqual(bce, -Foundation.log(p), accuracy: 1e-6)
        let focal = Tensor.sigmoidFocalLoss(Tensor([x], shape: [1]), Tensor([1], shape: [1]), reduction: .sum).item
        XCTAssertEqual(focal, 0.25 * (1 - p) * (1 - p) * -Foundation.log(p), accuracy: 1e-6)
    }

    func testBatchNormRunningStatistics() {
        let x = Tensor([1, 2, 3, 4, 10, 20, 30, 40], shape: [2, 2, 2, 1])  // channel 0: 1,2,10,20; channel 1: 3,4,30,40
        let rm = Tensor.zeros([2]), rv = Tensor.ones([2])
        _ = x.batchNorm(weight: nil, bias: nil, runningMean: rm, runningVar: rv, training: true)
        XCTAssertEqual(rm.scalars[0], 0.1 * 8.25, accuracy: 1e-5)
        // unbiased variance of [1, 2, 10, 20]: mean 8.25, squared deviations 52.5625 + 39.0625 + 3.0625 + 138.0625 = 232.75, / 3
        XCTAssertEqual(rv.scalars[0], 0.9 + 0.1 * 232.75 / 3, accuracy: 1e-4)
        let eval = x.batchNorm(weight: nil, bias: nil, runningMean: rm, runningVar: rv, training: false)
        XCTAssertEqual(eval.scalars[0], (1 - rm.scalars[0]) / (rv.scalars[0] + 1e-5).squareRoot(), accuracy: 1e-5)
    }
}
