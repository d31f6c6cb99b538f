import Base
import Model
import Tensor
import TestSupport
import XCTest

/// Mask2Former's semantic, instance and panoptic inference against the official rules
/// (fixture from scripts/fixtures/mask2former_inference_reference.py): the mask resizing, the
/// semantic scores, the top-10 instances (class, score, mask) and the panoptic ids and segments,
/// with inputs regenerated from the fixture's SplitMix64 rule.
final class Mask2FormerInferenceTests: XCTestCase {
    struct Sampled: Decodable {
        let shape: [Int]
        let stride: Int
        let data: [Float]
    }

    struct Instance: Decodable {
        let label: Int
        let score: Float
        /// [value, length] runs of the flat mask.
        let mask: [[Int]]
    }

    struct Segment: Decodable {
        let id: Int
        let isthing: Bool
        let category_id: Int
        let area: Int
    }

    struct Panoptic: Decodable {
        let ids: [[Int]]
        let segments: [Segment]
    }

    struct Fixture: Decodable {
        let seed: UInt64
        let queries, classes, topk: Int
        let things: [Int]
        let padded, image, output: [Int]
        let resized_masks, semantic: Sampled
        let instances: [Instance]
        let panoptic: Panoptic
    }

    static func expand(_ runs: [[Int]]) -> [Int] { runs.flatMap { [Int](repeating: $0[0], count: $0[1]) } }

    /// The script's inputs: class logits [Q, C+1] and low-resolution mask logits [Q, 6, 16].
    static func inputs(_ f: Fixture) -> (Tensor, Tensor) {
        var rng = SplitMix64(seed: f.seed)
        let q = f.queries, c = f.classes
        var logits = HFParity.stream(&rng, q * (c + 1), low: -4, high: 4)
        for i in 0..<6 { logits[i * (c + 1) + i % 5] += 9 }
        logits[6 * (c + 1) + 2] += 9
        logits[7 * (c + 1) + 1] += 9
        var masks = HFParity.stream(&rng, q * 6 * 16, low: -2, high: 2)
        for i in 0..<q {
            let column = i < 7 ? 2 * i : 2
            for y in 0..<6 { for x in 0..<16 { masks[(i * 6 + y) * 16 + x] += x == column ? 8 : -4 } }
        }
        return (Tensor(logits, shape: [q, c + 1]), Tensor(masks, shape: [q, 6, 16]))
    }

    func testMatchesTheOfficialRules() throws {
        let f = try TestPaths.decodeFixture(Fixture.self, "mask2former_inference.json")
        let (logits, low) = Self.inputs(f)
        let masks = Mask2FormerInference.resizedMasks(low, paddedSize: (f.padded[0], f.padded[1]), imageSize: (f.image[0], f.image[1]),
                                                      outputSize: (f.output[0], f.output[1]))
        XCTAssertEqual(masks.shape, f.resized_masks.shape)
        assertClose(stride(from: 0, to: masks.count, by: f.resized_masks.stride).map { masks.data[$0] }, f.resized_masks.data,
                    atol: 1e-5, rtol: 1e-5, "resized masks")

        let semantic = Mask2FormerInference.semantic(classLogits: logits, masks: masks)
        XCTAssertEqual(semantic.shape, f.semantic.shape)
        assertClose(stride(from: 0, to: semantic.count, by: f.semantic.stride).map { semantic.data[$0] }, f.semantic.data,
                    atol: 1e-5, rtol: 1e-5, "semantic scores")

        let instances = Mask2FormerInference.instances(classLogits: logits, masks: masks, topK: f.topk)
        XCTAssertEqual(instances.count, f.instances.count)
        for (i, (got, want)) in zip(instances, f.instances).enumerated() {
            XCTAssertEqual(got.label, want.label, "instance \(i) label")
            XCTAssertEqual(got.score, want.score, accuracy: 1e-5, "instance \(i) score")
            XCTAssertEqual(got.mask.map { $0 ? 1 : 0 }, Self.expand(want.mask), "instance \(i) mask")
        }

        let things = Set(f.things)
        let panoptic = Mask2FormerInference.panoptic(classLogits: logits, masks: masks, isThing: { things.contains($0) })
        XCTAssertEqual(panoptic.ids.map { Int($0) }, Self.expand(f.panoptic.ids))
        XCTAssertEqual(panoptic.segments, f.panoptic.segments.map {
            PredictedSegment(id: $0.id, isThing: $0.isthing, categoryId: $0.category_id, area: $0.area)
        })
        // The fixture covers a merged stuff class and a suppressed query.
        XCTAssertTrue(f.panoptic.segments.count >= 5)
    }

    func testPanopticKeepsNothingBelowTheThreshold() {
        // Every query's best class is "no object" or below 0.8: no segment, all ids 0.
        let logits = Tensor([0, 0, 5, 1, 1, 0.5], shape: [2, 3])
        let masks = Tensor([Float](repeating: 3, count: 2 * 4 * 4), shape: [2, 4, 4])
        let p = Mask2FormerInference.panoptic(classLogits: logits, masks: masks, isThing: { _ in true })
        XCTAssertTrue(p.segments.isEmpty)
        XCTAssertEqual(p.ids, [Int32](repeating: 0, count: 16))
    }
}

/// Mask2FormerCriterion on bad targets: a clear error naming the image and the problem, no trap.
final class Mask2FormerCriterionInputTests: XCTestCase {
    func prediction() -> Mask2FormerPrediction {
        var rng = SplitMix64(seed: 3)
        return Mask2FormerPrediction(classLogits: Tensor.uniform([2, 3, 4], low: -1, high: 1, using: &rng),
                                     maskLogits: Tensor.uniform([2, 3, 4, 4], low: -1, high: 1, using: &rng))
    }

    func testBadTargetsThrow() {
        var criterion = Mask2FormerCriterion(numClasses: 3)
        criterion.numPoints = 16
        var rng = SplitMix64(seed: 1)
        let good = Mask2FormerTarget(labels: [1], masks: Tensor.ones([1, 8, 8]))
        XCTAssertThrowsError(try criterion([prediction()], [good, Mask2FormerTarget(labels: [3], masks: Tensor.ones([1, 8, 8]))], using: &rng)) {
            XCTAssertEqual($0 as? DETRInputError, .labelOutOfRange(image: 1, index: 0, label: 3, numClasses: 3))
        }
        XCTAssertThrowsError(try criterion([prediction()], [good, Mask2FormerTarget(labels: [0, 1], masks: Tensor.ones([1, 8, 8]))], using: &rng)) {
            XCTAssertTrue(String(describing: $0).contains("image 1"), String(describing: $0))
        }
        XCTAssertThrowsError(try criterion([prediction()], [good, Mask2FormerTarget(labels: [0], masks: Tensor.ones([1, 8, 6]))], using: &rng)) {
            XCTAssertTrue(String(describing: $0).contains("image 1"), String(describing: $0))
        }
        XCTAssertThrowsError(try criterion([prediction()], [good], using: &rng)) {
            XCTAssertEqual($0 as? DETRInputError, .batchMismatch(outputs: 2, targets: 1))
        }
        XCTAssertThrowsError(try criterion([], [good, good], using: &rng))
        // Images without targets are fine: every query is "no object", no mask term.
        let empty = Mask2FormerTarget(labels: [], masks: Tensor.zeros([0, 8, 8]))
        let losses = try? criterion([prediction()], [empty, empty], using: &rng)
        XCTAssertNotNil(losses)
        XCTAssertEqual(losses?.terms[0].mask.item, 0)
        XCTAssertTrue(losses?.total.item.isFinite ?? false)
    }
}
