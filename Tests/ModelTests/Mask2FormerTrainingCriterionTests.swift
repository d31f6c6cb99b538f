import Base
import Model
import Tensor
import XCTest

/// Mask2Former's criterion as the trainer uses it (`TrainingCriterion`): the network's
/// `DETROutput` (last prediction, earlier ones as `aux`) and mask targets in, the same losses as
/// the criterion called on the predictions with a generator of the same seed; and the global
/// normalisers of data-parallel training.
final class Mask2FormerTrainingCriterionTests: XCTestCase {
    final class Seen: @unchecked Sendable {
        var counts: [Double] = []
    }

    /// Three predictions of 2 images, 4 queries, 3 classes; targets of 2 and 1 masks.
    func makeCase() -> (predictions: [Mask2FormerPrediction], targets: [DETRTarget]) {
        var rng = SplitMix64(seed: 5)
        let predictions = (0..<3).map { _ in
            Mask2FormerPrediction(classLogits: Tensor.uniform([2, 4, 4], low: -2, high: 2, using: &rng),
                                  maskLogits: Tensor.uniform([2, 4, 8, 8], low: -3, high: 3, using: &rng))
        }
        func masks(_ n: Int) -> Tensor {
            let t = Tensor.uniform([n, 16, 16], using: &rng)
            return Tensor(t.scalars.map { $0 > 0.5 ? 1 : 0 }, shape: [n, 16, 16])
        }
        let targets = [DETRTarget(labels: [0, 2], boxes: Tensor.zeros([2, 4]), masks: masks(2)),
                       DETRTarget(labels: [1], boxes: Tensor.zeros([1, 4]), masks: masks(1))]
        return (predictions, targets)
    }

    func output(_ predictions: [Mask2FormerPrediction]) -> DETROutput {
        func o(_ p: Mask2FormerPrediction) -> DETROutput {
            DETROutput(logits: p.classLogits, boxes: Tensor.zeros([2, 4, 4]), masks: p.maskLogits)
        }
        var last = o(predictions[predictions.count - 1])
        last.aux = predictions.dropLast().map(o)
        return last
    }

    func testTrainingLosses_AreTheCriterionsOnThePredictions() throws {
        let (predictions, targets) = makeCase()
        var criterion = Mask2FormerCriterion(numClasses: 3)
        criterion.numPoints = 64
        let got = try criterion.trainingLosses(output(predictions), targets, seed: 77)
        var rng = SplitMix64(seed: 77)
        let want = try criterion(predictions, targets.map { Mask2FormerTarget(labels: $0.labels, masks: $0.masks!) }, using: &rng)
        XCTAssertEqual(got.total.item, want.total.item)
        XCTAssertEqual(got.terms.map(\.name), ["loss_ce", "loss_mask", "loss_dice"])
        let last = want.terms[2]
        XCTAssertEqual(got.terms.map { $0.value.item }, [last.ce.item, last.mask.item, last.dice.item])
        // Another seed draws other points.
        XCTAssertNotEqual(try criterion.trainingLosses(output(predictions), targets, seed: 78).total.item, got.total.item)

        var bare = targets
        bare[1].masks = nil
        XCTAssertThrowsError(try criterion.trainingLosses(output(predictions), bare, seed: 77)) { error in
            XCTAssertTrue("\(error)".contains("target 1 has no masks"), "\(error)")
        }
    }

    /// The normalisers it sums over the processes: the number of target masks and the
    /// cross-entropy's class-weight sum (matched queries 1, the others the no-object weight).
    /// With every count doubled (a second process holding as much), the same draws give half
    /// the loss: this process's share.
    func testGlobalNormalisers_ScaleTheLossToTheProcessShare() throws {
        let (predictions, targets) = makeCase()
        var criterion = Mask2FormerCriterion(numClasses: 3)
        criterion.numPoints = 64
        let alone = try criterion.trainingLosses(output(predictions), targets, seed: 9)
        let seen = Seen()
        criterion.globalSum = { v in
            seen.counts = v
            v = v.map { $0 * 2 }
        }
        let shared = try criterion.trainingLosses(output(predictions), targets, seed: 9)
        XCTAssertEqual(seen.counts, [3, 3 + 5 * 0.1], accuracy: 1e-6)
        XCTAssertEqual(shared.total.item, alone.total.item / 2, accuracy: 1e-5 * alone.total.item)
        for (a, b) in zip(shared.terms, alone.terms) { XCTAssertEqual(a.value.item, b.value.item / 2, accuracy: 1e-6, a.name) }
    }
}

private func XCTAssertEqual(_ a: [Double], _ b: [Double], accuracy: Double, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: accuracy, file: file, line: line) }
}
