import Base
import Foundation
import Model
import Tensor
import TestSupport
import XCTest

/// HungarianMatcher against DETR's matcher re-stated in PyTorch with scipy's solver.
final class MatcherTests: XCTestCase {
    struct Case: Decodable {
        let name: String
        let logits: EncodedTensor
        let boxes: EncodedTensor
        let targets: [EncodedTarget]
        let queries: [[Int]]
        let target_indices: [[Int]]
    }

    struct File: Decodable {
        let cases: [Case]
    }

    func testMatcher_IdenticalIndicesToReference() throws {
        let file = try TestPaths.decodeFixture(File.self, "matcher.json")
        let matcher = HungarianMatcher()
        for c in file.cases {
            let out = DETROutput(logits: c.logits.tensor, boxes: c.boxes.tensor)
            let m = try matcher(out, c.targets.map(\.target))
            XCTAssertEqual(m.map(\.queries), c.queries, c.name)
            XCTAssertEqual(m.map(\.targets), c.target_indices, c.name)
            for img in m { XCTAssertEqual(img.queries, img.queries.sorted(), "\(c.name): sorted by query") }
        }
    }

    func testMatcher_DefaultsFromConfig() {
        let m = DETRConfig().makeCriterion().matcher
        XCTAssertEqual([m.costClass, m.costBox, m.costGIoU], [1, 5, 2])
    }

    func testMatcher_CostMatrixTerms() throws {
        // One query, one target: cost = 5 L1 - 1 p + 2 (-giou).
        let logits = Tensor([2, 0, 1], shape: [1, 3])
        let box = Tensor([0.5, 0.5, 0.2, 0.2], shape: [1, 4])
        let target = DETRTarget(labels: [1], boxes: Tensor([0.55, 0.5, 0.2, 0.2], shape: [1, 4]))
        let cost = try HungarianMatcher().costMatrix(logits: logits, boxes: box, target: target)
        let e: [Float] = [Foundation.exp(2), 1, Foundation.exp(1)]
        let p1 = e[1] / (e[0] + e[1] + e[2])
        // Boxes [0.4, 0.6] and [0.45, 0.65] in x, equal in y: IoU 0.15/0.25, enclosing = union.
        let giou: Float = 0.15 / 0.25
        XCTAssertEqual(cost.item, 5 * 0.05 - p1 - 2 * giou, accuracy: 1e-5)
    }

    func testMatcher_EmptyTargets() throws {
        var rng = SplitMix64(seed: 3)
        let out = DETROutput(logits: Tensor.normal([2, 5, 4], using: &rng),
                             boxes: Tensor.uniform([2, 5, 4], low: 0.2, high: 0.6, using: &rng))
        let m = try HungarianMatcher()(out, [DETRTarget.empty(), DETRTarget.empty()])
        XCTAssertEqual(m, [MatchIndices(queries: [], targets: []), MatchIndices(queries: [], targets: [])])
    }

    func testMatcher_DoesNotRecordGradients() throws {
        var rng = SplitMix64(seed: 4)
        let logits = Tensor.normal([1, 3, 3], using: &rng, requiresGrad: true)
        let out = DETROutput(logits: logits, boxes: Tensor.uniform([1, 3, 4], low: 0.2, high: 0.6, using: &rng))
        let m = try HungarianMatcher()(out, [DETRTarget(labels: [0], boxes: Tensor([0.5, 0.5, 0.1, 0.1], shape: [1, 4]))])
        XCTAssertEqual(m[0].count, 1)
        XCTAssertNil(logits.grad)
    }

    func testMatcher_Errors() {
        var rng = SplitMix64(seed: 5)
        let out = DETROutput(logits: Tensor.normal([1, 4, 3], using: &rng), boxes: Tensor.uniform([1, 4, 4], low: 0.2, high: 0.6, using: &rng))
        let good = DETRTarget(labels: [1], boxes: Tensor([0.5, 0.5, 0.1, 0.1], shape: [1, 4]))
        func error(_ o: DETROutput, _ t: [DETRTarget], _ m: HungarianMatcher = HungarianMatcher()) -> Error? {
            do { _ = try m(o, t); return nil } catch { return error }
        }
        XCTAssertNil(error(out, [good]))
        XCTAssertEqual(error(out, [good, good]) as? DETRInputError, .batchMismatch(outputs: 1, targets: 2))
        // Label 2 is the "no object" class of 3 logits: not a valid target.
        XCTAssertEqual(error(out, [DETRTarget(labels: [2], boxes: good.boxes)]) as? DETRInputError,
                       .labelOutOfRange(image: 0, index: 0, label: 2, numClasses: 2))
        XCTAssertNotNil(error(out, [DETRTarget(labels: [0, 1], boxes: good.boxes)]))
        XCTAssertNotNil(error(DETROutput(logits: out.logits, boxes: Tensor.zeros([1, 3, 4])), [good]))
        XCTAssertNotNil(error(out, [good], HungarianMatcher(costClass: 0, costBox: 0, costGIoU: 0)))
        // NaN predictions surface as a typed error, not a trap.
        let nanBoxes = Tensor.full([1, 4, 4], .nan)
        XCTAssertNotNil(error(DETROutput(logits: out.logits, boxes: nanBoxes), [good]))
        let nanLogits = Tensor.full([1, 4, 3], .nan)
        XCTAssertTrue(error(DETROutput(logits: nanLogits, boxes: out.boxes), [good]) is LinearAssignmentError)
    }
}
