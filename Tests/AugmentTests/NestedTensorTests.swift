import Augment
import Tensor
import XCTest

final class NestedTensorTests: XCTestCase {
    func image(_ h: Int, _ w: Int, _ v: Float) -> Tensor { Tensor.full([3, h, w], v) }

    func testMask_IsExactlyThePadding() throws {
        let sizes = [(5, 7), (9, 3), (2, 2)]
        let n = try NestedTensor.batching(sizes.enumerated().map { image($1.0, $1.1, Float($0 + 1)) })
        XCTAssertEqual(n.tensors.shape, [3, 3, 9, 7])
        XCTAssertEqual(n.mask.shape, [3, 9, 7])
        let t = scalars(n.tensors)
        for (b, (h, w)) in sizes.enumerated() {
            for c in 0..<3 {
                for y in 0..<9 {
                    for x in 0..<7 {
                        let inside = y < h && x < w
                        XCTAssertEqual(n.mask.values[(b * 9 + y) * 7 + x], !inside)
                        XCTAssertEqual(t[((b * 3 + c) * 9 + y) * 7 + x], inside ? Float(b + 1) : 0)
                    }
                }
            }
        }
    }

    func testPadToStride_RoundsUp() throws {
        let n = try NestedTensor.batching([image(33, 50, 1), image(20, 64, 1)], padToMultipleOf: 32)
        XCTAssertEqual(n.tensors.shape, [2, 3, 64, 64])
        XCTAssertTrue(n.mask.values[33 * 64 + 0])
        XCTAssertTrue(n.mask.values[0 * 64 + 50])
        XCTAssertFalse(n.mask.values[32 * 64 + 49])
        XCTAssertEqual(n.mask.values.filter { !$0 }.count, 33 * 50 + 20 * 64)
    }

    func testDownsampledMask_NearestAsInterpolate() throws {
        // One image 8x8 padded to 8x16 next to a 8x16 one: at 4x8, columns 4... are padding.
        let n = try NestedTensor.batching([image(8, 8, 1), image(8, 16, 1)])
        let m = n.mask(downsampledTo: 4, 8)
        XCTAssertEqual(m.shape, [2, 4, 8])
        for y in 0..<4 {
            for x in 0..<8 {
                XCTAssertEqual(m.values[y * 8 + x], x >= 4)
                XCTAssertFalse(m.values[32 + y * 8 + x])
            }
        }
        // Odd sizes: 7 -> 3 picks source columns floor(i * 7/3) = 0, 2, 4.
        let odd = try NestedTensor.batching([image(1, 3, 1), image(1, 7, 1)]).mask(downsampledTo: 1, 3)
        XCTAssertEqual(Array(odd.values[0..<3]), [false, false, true])
    }

    func testEmptyBatch_Throws() {
        XCTAssertThrowsError(try NestedTensor.batching([])) { XCTAssertEqual($0 as? BatchError, .empty) }
    }

    func testBatchingImages_EqualsNormaliseThenPad() throws {
        let a = patternImage(width: 9, height: 4, seed: 1), b = patternImage(width: 5, height: 7, seed: 2)
        let norm = Normalization.imageNet
        let direct = try NestedTensor.batching([a, b], normalization: norm, padToMultipleOf: 4)
        let viaTensors = try NestedTensor.batching([a, b].map { norm(Sample(image: $0, target: Target(boxes: [], labels: []))).image },
                                                   padToMultipleOf: 4)
        XCTAssertEqual(direct.tensors.shape, [2, 3, 8, 12])
        XCTAssertEqual(scalars(direct.tensors), scalars(viaTensors.tensors))
        XCTAssertEqual(direct.mask, viaTensors.mask)
    }
}
