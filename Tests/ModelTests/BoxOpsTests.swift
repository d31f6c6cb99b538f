import Base
import Foundation
import Model
import Tensor
import TestSupport
import XCTest

/// Box conversions, area, IoU and generalized IoU against DETR's box_ops re-stated in PyTorch
/// (values and gradients) and against finite differences.
final class BoxOpsTests: XCTestCase {
    struct File: Decodable {
        let a, b, weight, a_xyxy, b_xyxy, a_back, a_area, iou, union, giou, grad_a, grad_b: EncodedTensor
    }

    func testValues_MatchPyTorch() throws {
        let f = try TestPaths.decodeFixture(File.self, "box_ops.json")
        let axy = try boxCxcywhToXyxy(f.a.tensor), bxy = try boxCxcywhToXyxy(f.b.tensor)
        assertClose(axy.scalars, f.a_xyxy.data, "a xyxy")
        assertClose(bxy.scalars, f.b_xyxy.data, "b xyxy")
        assertClose(try boxXyxyToCxcywh(axy).scalars, f.a_back.data, "xyxy -> cxcywh")
        assertClose(try boxArea(axy).scalars, f.a_area.data, "area")
        let (iou, union) = try boxIoU(axy, bxy)
        XCTAssertEqual(iou.shape, [6, 5])
        assertClose(iou.scalars, f.iou.data, "iou")
        assertClose(union.scalars, f.union.data, "union")
        let giou = try generalizedBoxIoU(axy, bxy)
        assertClose(giou.scalars, f.giou.data, "giou")
        XCTAssertEqual(giou.data[1 * 5 + 2], 1, accuracy: 1e-6, "identical boxes")
        XCTAssertLessThan(giou.data[4 * 5 + 0], 0, "disjoint boxes")
    }

    func testGIoUGradients_MatchPyTorch() throws {
        let f = try TestPaths.decodeFixture(File.self, "box_ops.json")
        let a = f.a.tensor, b = f.b.tensor
        a.requiresGrad = true
        b.requiresGrad = true
        let giou = try generalizedBoxIoU(boxCxcywhToXyxy(a), boxCxcywhToXyxy(b))
        (giou * f.weight.tensor).sum().backward()
        let ga = try XCTUnwrap(a.grad).scalars, gb = try XCTUnwrap(b.grad).scalars
        // a[1] == b[2]: min/max tie there, and how a tie splits its gradient is a convention
        // (PyTorch halves it, our engine gives it to the first argument). Every other box
        // must agree.
        for i in [0, 2, 3, 4, 5] {
            assertClose(Array(ga[(4 * i)..<(4 * i + 4)]), Array(f.grad_a.data[(4 * i)..<(4 * i + 4)]), atol: 1e-4, rtol: 1e-3, "grad a[\(i)]")
        }
        for j in [0, 1, 3, 4] {
            assertClose(Array(gb[(4 * j)..<(4 * j + 4)]), Array(f.grad_b.data[(4 * j)..<(4 * j + 4)]), atol: 1e-4, rtol: 1e-3, "grad b[\(j)]")
        }
    }

    func testGIoUGradients_FiniteDifferences() throws {
        var rng = SplitMix64(seed: 5)
        func boxes(_ n: Int) -> Tensor {
            let c = Tensor.uniform([n, 2], low: 0.3, high: 0.7, using: &rng)
            let wh = Tensor.uniform([n, 2], low: 0.1, high: 0.5, using: &rng)
            return Tensor.cat([c, wh], axis: 1)
        }
        let a = boxes(3), b = boxes(4)
        try checkModelGradients("giou pairwise", [a, b]) { try generalizedBoxIoU(boxCxcywhToXyxy($0[0]), boxCxcywhToXyxy($0[1])) }
        try checkModelGradients("iou pairwise", [a, b]) { try boxIoU(boxCxcywhToXyxy($0[0]), boxCxcywhToXyxy($0[1])).iou }
        let c = boxes(4)
        try checkModelGradients("giou paired", [b, c]) { try generalizedBoxIoUPaired(boxCxcywhToXyxy($0[0]), boxCxcywhToXyxy($0[1])) }
        try checkModelGradients("conversions", [a]) { try boxArea(boxXyxyToCxcywh(boxCxcywhToXyxy($0[0]))) }
    }

    func testPairedGIoU_EqualsDiagonal() throws {
        let f = try TestPaths.decodeFixture(File.self, "box_ops.json")
        let a = try boxCxcywhToXyxy(f.a.tensor.slice(axis: 0, 0..<5)), b = try boxCxcywhToXyxy(f.b.tensor)
        let full = try generalizedBoxIoU(a, b)
        let paired = try generalizedBoxIoUPaired(a, b)
        XCTAssertEqual(paired.shape, [5])
        for i in 0..<5 { XCTAssertEqual(paired.data[i], full.data[i * 5 + i], accuracy: 1e-6) }
    }

    func testEmptyAndBatchedShapes() throws {
        XCTAssertEqual(try generalizedBoxIoU(Tensor.zeros([0, 4]), Tensor.ones([3, 4])).shape, [0, 3])
        XCTAssertEqual(try boxIoU(Tensor.ones([2, 4]), Tensor.zeros([0, 4])).iou.shape, [2, 0])
        XCTAssertEqual(try boxCxcywhToXyxy(Tensor.zeros([0, 4])).shape, [0, 4])
        XCTAssertEqual(try generalizedBoxIoUPaired(Tensor.zeros([0, 4]), Tensor.zeros([0, 4])).shape, [0])
        // [B, Q, 4] converts on the last dimension.
        let x = Tensor([0.5, 0.5, 0.2, 0.4, 0.1, 0.2, 0.2, 0.2], shape: [1, 2, 4])
        let y = try boxCxcywhToXyxy(x)
        XCTAssertEqual(y.shape, [1, 2, 4])
        assertClose(y.scalars, [0.4, 0.3, 0.6, 0.7, 0.0, 0.1, 0.2, 0.3], atol: 1e-6, rtol: 0, "batched")
        XCTAssertEqual(try boxArea(y).shape, [1, 2])
    }

    func testErrors_AreTyped() {
        XCTAssertThrowsError(try boxCxcywhToXyxy(Tensor.zeros([3, 3])))
        XCTAssertThrowsError(try boxIoU(Tensor.zeros([3, 4]), Tensor.zeros([2, 4, 1])))
        let bad = Tensor([0.5, 0.5, 0.4, 0.6], shape: [1, 4])   // x1 < x0
        XCTAssertThrowsError(try generalizedBoxIoU(bad, Tensor([0, 0, 1, 1], shape: [1, 4]))) { error in
            guard case .degenerateBox(_, 0, _)? = error as? DETRInputError else { return XCTFail("\(error)") }
        }
        let nan = Tensor([0, 0, .nan, 1], shape: [1, 4])
        XCTAssertThrowsError(try generalizedBoxIoU(Tensor([0, 0, 1, 1], shape: [1, 4]), nan))
        XCTAssertThrowsError(try generalizedBoxIoUPaired(Tensor.zeros([2, 4]), Tensor.zeros([3, 4])))
    }
}
