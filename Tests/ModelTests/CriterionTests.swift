import Base
import Foundation
import Model
import Tensor
import TestSupport
import XCTest

/// SetCriterion against DETR's SetCriterion re-stated in PyTorch (float64): every loss term,
/// the weighted total, the matching and the gradients of the total; plus finite differences.
final class CriterionTests: XCTestCase {
    struct Layer: Decodable {
        let logits: EncodedTensor
        let boxes: EncodedTensor
    }

    struct Case: Decodable {
        let name: String
        let num_classes: Int
        /// Auxiliary layers first, the final layer last.
        let layers: [Layer]
        let pred_masks: EncodedTensor?
        let targets: [EncodedTarget]
        let losses: [String: Double]
        let total: Double
        let queries: [[Int]]
        let target_indices: [[Int]]
        let grads: [Layer]
        let grad_masks: EncodedTensor?
    }

    struct File: Decodable {
        let cases: [Case]
    }

    /// The output of a case with leaves that require gradients (aux layers first in `leaves`).
    func output(_ c: Case) -> (DETROutput, [(Tensor, Tensor)], Tensor?) {
        let leaves = c.layers.map { ($0.logits.tensor, $0.boxes.tensor) }
        for (l, b) in leaves {
            l.requiresGrad = true
            b.requiresGrad = true
        }
        let masks = c.pred_masks?.tensor
        masks?.requiresGrad = true
        let aux = leaves.dropLast().map { DETROutput(logits: $0.0, boxes: $0.1) }
        return (DETROutput(logits: leaves.last!.0, boxes: leaves.last!.1, masks: masks, aux: Array(aux)), leaves, masks)
    }

    func testCriterion_LossesMatchReference() throws {
        let file = try TestPaths.decodeFixture(File.self, "criterion.json")
        XCTAssertEqual(file.cases.count, 5)
        for c in file.cases {
            let (out, _, _) = output(c)
            let losses = try SetCriterion(numClasses: c.num_classes)(out, c.targets.map(\.target))
            XCTAssertEqual(losses.indices.map(\.queries), c.queries, c.name)
            XCTAssertEqual(losses.indices.map(\.targets), c.target_indices, c.name)
            let logged = losses.logged
            XCTAssertEqual(Set(logged.map(\.name)), Set(c.losses.keys), c.name)
            for (name, value) in logged {
                assertRelClose(value, c.losses[name] ?? .nan, "\(c.name) \(name)")
            }
            assertRelClose(losses.total.item, c.total, "\(c.name) total")
            // The struct's fields are the same numbers as the log.
            assertRelClose(losses.main.ce.item, c.losses["loss_ce"]!, "\(c.name) main.ce")
            XCTAssertEqual(losses.aux.count, c.layers.count - 1)
        }
    }

    func testCriterion_GradientsMatchReference() throws {
        let file = try TestPaths.decodeFixture(File.self, "criterion.json")
        for c in file.cases {
            let (out, leaves, masks) = output(c)
            let losses = try SetCriterion(numClasses: c.num_classes)(out, c.targets.map(\.target))
            losses.total.backward()
            for (k, ((l, b), g)) in zip(leaves, c.grads).enumerated() {
                assertClose(try XCTUnwrap(l.grad).scalars, g.logits.data, atol: 1e-6, rtol: 1e-3, "\(c.name) layer \(k) d logits")
                if g.boxes.data.contains(where: { $0 != 0 }) {
                    assertClose(try XCTUnwrap(b.grad).scalars, g.boxes.data, atol: 1e-6, rtol: 1e-3, "\(c.name) layer \(k) d boxes")
                }
            }
            if let gm = c.grad_masks {
                assertClose(try XCTUnwrap(masks?.grad).scalars, gm.data, atol: 1e-7, rtol: 1e-3, "\(c.name) d masks")
            }
        }
    }

    func testCriterion_FiniteDifferences() throws {
        let file = try TestPaths.decodeFixture(File.self, "criterion.json")
        for name in ["no_aux", "segmentation"] {
            let c = try XCTUnwrap(file.cases.first { $0.name == name })
            let targets = c.targets.map(\.target)
            var inputs = [c.layers[0].logits.tensor, c.layers[0].boxes.tensor]
            if let m = c.pred_masks { inputs.append(m.tensor) }
            let criterion = SetCriterion(numClasses: c.num_classes)
            try checkModelGradients("criterion \(name)", inputs, eps: 1e-3, atol: 3e-3, rtol: 2e-2) { t in
                let out = DETROutput(logits: t[0], boxes: t[1], masks: t.count > 2 ? t[2] : nil)
                return try criterion(out, targets).total
            }
        }
    }

    func testCriterion_WeightsAndNames() throws {
        let file = try TestPaths.decodeFixture(File.self, "criterion.json")
        let c = try XCTUnwrap(file.cases.first { $0.name == "two_images_two_aux" })
        let (out, _, _) = output(c)
        var config = DETRConfig()
        config.numClasses = c.num_classes
        let losses = try config.makeCriterion()(out, c.targets.map(\.target))
        var expected: Float = 0
        for t in [losses.main] + losses.aux { expected += t.ce.item + 5 * t.bbox.item + 2 * t.giou.item }
        XCTAssertEqual(losses.total.item, expected, accuracy: 1e-4)
        let names = losses.logged.map(\.name)
        XCTAssertTrue(names.contains("loss_giou_1"))
        XCTAssertTrue(names.contains("class_error"))
        XCTAssertFalse(names.contains("class_error_0"), "class error is logged for the last layer only")
        XCTAssertNil(losses.aux[0].classError)
        XCTAssertEqual(SetCriterion(numClasses: 3).classWeights.scalars, [1, 1, 1, 0.1])
    }

    func testMaskLosses_MatchDefinitions() throws {
        // One mask, equal sizes: focal and dice by hand.
        let logits = Tensor([0, 2, -1, 1], shape: [1, 2, 2])
        let target = Tensor([1, 1, 0, 0], shape: [1, 2, 2])
        let (focal, dice) = try maskFocalDiceLosses(logits, target, numBoxes: 2)
        let x: [Float] = [0, 2, -1, 1], t: [Float] = [1, 1, 0, 0]
        var fsum: Float = 0, pt: Float = 0, ps: Float = 0
        for i in 0..<4 {
            let p = 1 / (1 + Foundation.exp(-x[i]))
            let ce = -(t[i] * Foundation.log(p) + (1 - t[i]) * Foundation.log(1 - p))
            let ptrue = p * t[i] + (1 - p) * (1 - t[i])
            fsum += (0.25 * t[i] + 0.75 * (1 - t[i])) * ce * (1 - ptrue) * (1 - ptrue)
            pt += p * t[i]
            ps += p
        }
        XCTAssertEqual(focal.item, fsum / 4 / 2, accuracy: 1e-6)
        XCTAssertEqual(dice.item, (1 - (2 * pt + 1) / (ps + 2 + 1)) / 2, accuracy: 1e-6)
        let empty = try maskFocalDiceLosses(Tensor.zeros([0, 2, 2]), Tensor.zeros([0, 3, 3]), numBoxes: 1)
        XCTAssertEqual(empty.focal.item, 0)
        XCTAssertThrowsError(try maskFocalDiceLosses(Tensor.zeros([2, 2, 2]), Tensor.zeros([1, 3, 3]), numBoxes: 1))
    }

    func testCriterion_Errors() throws {
        var rng = SplitMix64(seed: 8)
        let out = DETROutput(logits: Tensor.normal([1, 4, 3], using: &rng), boxes: Tensor.uniform([1, 4, 4], low: 0.2, high: 0.6, using: &rng))
        let target = DETRTarget(labels: [1], boxes: Tensor([0.5, 0.5, 0.1, 0.1], shape: [1, 4]))
        XCTAssertNoThrow(try SetCriterion(numClasses: 2)(out, [target]))
        XCTAssertThrowsError(try SetCriterion(numClasses: 3)(out, [target]))
        XCTAssertThrowsError(try SetCriterion(numClasses: 2)(out, []))
        XCTAssertThrowsError(try SetCriterion(numClasses: 2)(out, [DETRTarget(labels: [5], boxes: target.boxes)]))
        let badAux = DETROutput(logits: out.logits, boxes: out.boxes, aux: [DETROutput(logits: Tensor.zeros([1, 4, 5]), boxes: out.boxes)])
        XCTAssertThrowsError(try SetCriterion(numClasses: 2)(badAux, [target]))
        // Mask logits without target masks: an error, not a silently skipped term.
        let withMasks = DETROutput(logits: out.logits, boxes: out.boxes, masks: Tensor.zeros([1, 4, 3, 3]))
        XCTAssertThrowsError(try SetCriterion(numClasses: 2)(withMasks, [target]))
        let masked = DETRTarget(labels: [1], boxes: target.boxes, masks: Tensor.ones([1, 5, 6]))
        let losses = try SetCriterion(numClasses: 2)(withMasks, [masked])
        XCTAssertNotNil(losses.main.mask)
        XCTAssertTrue(losses.logged.contains { $0.name == "loss_dice" })
    }
}
