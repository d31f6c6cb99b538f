import Tensor
import XCTest

/// Every differentiable op against finite differences (one line per case).
final class GradientTests: XCTestCase {
    func r(_ shape: [Int], _ seed: UInt64, low: Float = -2, high: Float = 2, gap: Float = 0) -> Tensor {
        randomTensor(shape, seed: seed, low: low, high: high, gap: gap)
    }

    func testElementwiseBinary_WithBroadcasting() {
        checkGradients("add", [r([3, 4], 1), r([3, 4], 2)]) { $0[0] + $0[1] }
        checkGradients("add bcast row", [r([3, 4], 1), r([4], 2)]) { $0[0] + $0[1] }
        checkGradients("add bcast col", [r([2, 3, 4], 1), r([3, 1], 2)]) { $0[0] + $0[1] }
        checkGradients("sub bcast both", [r([3, 1], 1), r([1, 4], 2)]) { $0[0] - $0[1] }
        checkGradients("mul bcast", [r([2, 3, 4], 3), r([1, 3, 1], 4)]) { $0[0] * $0[1] }
        checkGradients("mul scalar tensor", [r([2, 3], 3), r([], 4)]) { $0[0] * $0[1] }
        checkGradients("div bcast", [r([2, 3], 5), r([3], 6, low: 0.5, high: 2)]) { $0[0] / $0[1] }
        checkGradients("maximum", [r([4, 5], 7), r([4, 5], 8)]) { $0[0].maximum($0[1]) }
        checkGradients("minimum bcast", [r([4, 5], 7), r([5], 8)]) { $0[0].minimum($0[1]) }
        checkGradients("scalar ops", [r([3, 3], 9)]) { (2 - $0[0] * 3 + 1) / 4 }
    }

    func testElementwiseUnary() {
        checkGradients("neg", [r([5], 1)]) { -$0[0] }
        checkGradients("exp", [r([5], 1)]) { $0[0].exp() }
        checkGradients("log", [r([5], 1, low: 0.3, high: 3)]) { $0[0].log() }
        checkGradients("sqrt", [r([5], 1, low: 0.3, high: 3)]) { $0[0].sqrt() }
        checkGradients("pow", [r([5], 1, low: 0.3, high: 2)]) { $0[0].pow(2.5) }
        checkGradients("abs", [r([6], 2, gap: 0.05)]) { $0[0].abs() }
        checkGradients("clamp", [r([8], 3, gap: 0.05)]) { $0[0].clamp(min: -1, max: 1) }
        checkGradients("relu", [r([8], 4, gap: 0.05)]) { $0[0].relu() }
        checkGradients("sigmoid", [r([8], 5)]) { $0[0].sigmoid() }
        checkGradients("tanh", [r([8], 6)]) { $0[0].tanh() }
        checkGradients("gelu", [r([8], 7)]) { $0[0].gelu() }
        checkGradients("sin", [r([8], 8, low: -4, high: 4)]) { $0[0].sin() }
        checkGradients("cos", [r([8], 9, low: -4, high: 4)]) { $0[0].cos() }
    }

    func testReductions() {
        checkGradients("sum all", [r([3, 4], 1)]) { $0[0].sum() }
        checkGradients("mean all", [r([3, 4], 1)]) { $0[0].mean() }
        checkGradients("sum axis 0", [r([3, 4, 2], 2)]) { $0[0].sum(axis: 0) }
        checkGradients("sum axis 1 keep", [r([3, 4, 2], 2)]) { $0[0].sum(axis: 1, keepDims: true) }
        checkGradients("sum axis -1", [r([3, 4, 2], 2)]) { $0[0].sum(axis: -1) }
        checkGradients("sum axes", [r([3, 4, 2], 2)]) { $0[0].sum(axes: [0, 2]) }
        checkGradients("mean axis", [r([3, 4], 3)]) { $0[0].mean(axis: 1) }
        checkGradients("max axis", [r([3, 5], 4)]) { $0[0].max(axis: 1) }
        checkGradients("min axis keep", [r([3, 5, 2], 4)]) { $0[0].min(axis: 1, keepDims: true) }
        checkGradients("softmax last", [r([3, 5], 5)]) { $0[0].softmax() }
        checkGradients("softmax axis 1", [r([2, 4, 3], 5)]) { $0[0].softmax(axis: 1) }
        checkGradients("log_softmax", [r([3, 5], 6)]) { $0[0].logSoftmax() }
        checkGradients("log_softmax axis 0", [r([4, 3], 6)]) { $0[0].logSoftmax(axis: 0) }
    }

    func testShapeOps() {
        checkGradients("reshape", [r([2, 6], 1)]) { $0[0].reshape([3, 4]) * $0[0].reshape([3, 4]) }
        checkGradients("permute", [r([2, 3, 4], 2)]) { $0[0].permute([2, 0, 1]) }
        checkGradients("transpose", [r([3, 4], 3)]) { $0[0].transpose(0, 1) }
        checkGradients("expand", [r([3, 1], 4)]) { $0[0].expand([2, 3, 5]) }
        checkGradients("repeat", [r([2, 3], 5)]) { $0[0].repeated([2, 1, 2]) }
        checkGradients("slice", [r([4, 6], 6)]) { $0[0].slice(axis: 1, 1..<6, step: 2) }
        checkGradients("split", [r([4, 6], 6)]) { $0[0].split([2, 4], axis: 1)[1] }
        checkGradients("chunk", [r([5, 3], 6)]) { $0[0].chunk(2, axis: 0)[1] }
        checkGradients("cat", [r([2, 3], 7), r([2, 2], 8)]) { Tensor.cat([$0[0], $0[1]], axis: 1) }
        checkGradients("stack", [r([2, 3], 7), r([2, 3], 8)]) { Tensor.stack([$0[0], $0[1]], axis: 1) }
        checkGradients("pad", [r([2, 3, 4], 9)]) { $0[0].pad([(1, 0), (2, 1)], value: 0.5) }
        checkGradients("flatten", [r([2, 3, 4], 9)]) { $0[0].flatten(from: 1) * 2 }
    }

    func testMatmulAndLinear() {
        checkGradients("matmul 2d", [r([3, 4], 1), r([4, 5], 2)]) { $0[0].matmul($0[1]) }
        checkGradients("matmul nd x 2d", [r([2, 3, 4], 1), r([4, 2], 2)]) { $0[0].matmul($0[1]) }
        checkGradients("bmm", [r([2, 3, 4], 1), r([2, 4, 2], 2)]) { $0[0].matmul($0[1]) }
        checkGradients("bmm bcast", [r([2, 1, 3, 4], 1), r([3, 4, 2], 2)]) { $0[0].matmul($0[1]) }
        checkGradients("matvec", [r([3, 4], 1), r([4], 2)]) { $0[0].matmul($0[1]) }
        checkGradients("linear", [r([2, 3, 4], 3), r([5, 4], 4), r([5], 5)]) { $0[0].linear(weight: $0[1], bias: $0[2]) }
        checkGradients("linear no bias", [r([6, 4], 3), r([5, 4], 4)]) { $0[0].linear(weight: $0[1]) }
    }

    func testGradientAccumulatesAcrossUses() {
        let x = Tensor([1, 2, 3], shape: [3], requiresGrad: true)
        let y = (x * x + x * 3).sum()  // dy/dx = 2x + 3
        y.backward()
        XCTAssertEqual(x.grad?.scalars, [5, 7, 9])
        // A second backward accumulates into grad, as in PyTorch.
        (x * 2).sum().backward()
        XCTAssertEqual(x.grad?.scalars, [7, 9, 11])
    }

    func testNoGradScope() {
        let x = Tensor([1, 2], shape: [2], requiresGrad: true)
        let y = withNoGrad { x * 2 }
        XCTAssertFalse(y.requiresGrad)
        XCTAssertTrue((x * 2).requiresGrad)
        XCTAssertFalse((x * 2).detach().requiresGrad)
    }
}
