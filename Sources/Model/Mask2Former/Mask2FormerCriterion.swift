import Base
import Foundation
import NN
import Tensor

/// The ground truth of one image for Mask2Former's loss: a class and a binary mask per
/// segment (`masks` [T, H, W] at the padded batch's image size, zero on padding).
public struct Mask2FormerTarget {
    public var labels: [Int]
    public var masks: Tensor

    public init(labels: [Int], masks: Tensor) {
        self.labels = labels
        self.masks = masks
    }
}

/// The values of `maps` [N, C, H, W] at points [N, P, 2] ((x, y) in [0, 1] of the map, the
/// official `point_sample`: bilinear, zeros outside, align_corners false): [N, C, P].
public func pointSample(_ maps: Tensor, _ points: Tensor) -> Tensor {
    let n = maps.shape[0], c = maps.shape[1], p = points.shape[1]
    precondition(maps.rank == 4 && points.shape == [n, p, 2], "pointSample: maps \(maps.shape), points \(points.shape)")
    return maps.gridSample((points * 2 - 1).reshape([n, p, 1, 2])).reshape([n, c, p])
}

/// The loss terms of one prediction (unweighted): `loss_ce`, `loss_mask`, `loss_dice`.
public struct Mask2FormerLossTerms {
    /// Cross-entropy over every query, "no object" for the unmatched ones, weighted mean with
    /// "no object" weighted `noObjectWeight`.
    public var ce: Tensor
    /// Sigmoid binary cross-entropy of the matched masks at the sampled points, mean over points,
    /// summed over masks and divided by the number of target masks in the batch.
    public var mask: Tensor
    /// Dice loss of the matched masks at the sampled points, summed and divided the same way.
    public var dice: Tensor
}

/// Every prediction's terms, the matching, and the weighted total.
public struct Mask2FormerLosses {
    /// One per prediction, in the order of `Mask2FormerOutput.predictions` (the last is the
    /// model's output; the others are the auxiliary `_0`, `_1`, ... of the official names).
    public var terms: [Mask2FormerLossTerms]
    public var indices: [[MatchIndices]]
    /// Sum over predictions of weightCE * ce + weightMask * mask + weightDice * dice.
    public var total: Tensor
    /// The weighted terms of every prediction with the official names (`loss_ce`, `loss_mask`,
    /// `loss_dice` for the last prediction, `_0`, `_1`, ... for the others); the total is the
    /// sum of weight * value over them.
    public var named: [LossTerm]
}

/// Mask2Former's matcher and SetCriterion (the official `HungarianMatcher` and `SetCriterion`
/// with point-sampled mask terms).
///
/// Matching, per image and prediction: cost = costMask * BCE + costClass * -p(class) +
/// costDice * dice, the mask terms on `numPoints` points drawn uniformly (the same for every
/// query and target of the image); the optimal assignment by `linearSumAssignment`. Mask losses:
/// per matched mask, `numPoints * oversampleRatio` uniform points, of which the
/// `importanceSampleRatio * numPoints` most uncertain (uncertainty -|logit|) are kept, plus
/// uniform ones up to `numPoints`. Every uniform draw comes from the generator the caller
/// passes, in the official order (the last prediction first, then the auxiliary ones; per
/// prediction the matcher's draws image by image, then the loss's), so that a seeded
/// generator reproduces the official losses given the same draws.
public struct Mask2FormerCriterion: Sendable {
    public var numClasses: Int
    public var costClass: Float = 2, costMask: Float = 5, costDice: Float = 5
    public var weightCE: Float = 2, weightMask: Float = 5, weightDice: Float = 5
    public var noObjectWeight: Float = 0.1
    public var numPoints = 12544
    public var oversampleRatio: Float = 3
    public var importanceSampleRatio: Float = 0.75
    /// Data-parallel training: sums a vector over the processes, each holding a part of the
    /// global batch (see `SetCriterion.globalSum`): the number of target masks and the
    /// cross-entropy's class-weight sum are then the global batch's. nil: one process.
    public var globalSum: (@Sendable (inout [Double]) -> Void)?

    public init(numClasses: Int) {
        self.numClasses = numClasses
    }

    func validate(_ p: Mask2FormerPrediction, _ targets: [Mask2FormerTarget]) throws {
        let logits = p.classLogits, masks = p.maskLogits
        guard logits.rank == 3, logits.shape[2] == numClasses + 1 else {
            throw DETRInputError.badShape(what: "Mask2Former class logits", expected: "[batch, queries, \(numClasses + 1)]", got: logits.shape)
        }
        guard masks.rank == 4, masks.shape[0] == logits.shape[0], masks.shape[1] == logits.shape[1] else {
            throw DETRInputError.badShape(what: "Mask2Former mask logits", expected: "[\(logits.shape[0]), \(logits.shape[1]), h, w]", got: masks.shape)
        }
        guard targets.count == logits.shape[0] else { throw DETRInputError.batchMismatch(outputs: logits.shape[0], targets: targets.count) }
        let size = targets.first.map { Array($0.masks.shape.dropFirst()) } ?? []
        for (b, t) in targets.enumerated() {
            guard t.masks.rank == 3, t.masks.shape[0] == t.labels.count, Array(t.masks.shape.dropFirst()) == size else {
                throw DETRInputError.badShape(what: "Mask2Former target masks of image \(b)",
                                              expected: "[\(t.labels.count)] + \(size) (one mask per label, the batch's size)", got: t.masks.shape)
            }
            for (i, l) in t.labels.enumerated() where l < 0 || l >= numClasses {
                throw DETRInputError.labelOutOfRange(image: b, index: i, label: l, numClasses: numClasses)
            }
        }
        guard numPoints > 0, oversampleRatio >= 1, importanceSampleRatio >= 0, importanceSampleRatio <= 1 else {
            throw DETRInputError.invalidArgument("Mask2FormerCriterion: \(numPoints) points, oversample ratio \(oversampleRatio), importance ratio \(importanceSampleRatio)")
        }
    }

    /// The matching of one prediction, image by image (no gradient).
    public func match(_ p: Mask2FormerPrediction, _ targets: [Mask2FormerTarget], using rng: inout SplitMix64) throws -> [MatchIndices] {
        try validate(p, targets)
        return try withNoGrad {
            let q = p.classLogits.shape[1]
            var result: [MatchIndices] = []
            for (b, target) in targets.enumerated() {
                let points = Tensor.uniform([1, numPoints, 2], using: &rng)
                let n = target.labels.count
                if n == 0 {
                    result.append(MatchIndices(queries: [], targets: []))
                    continue
                }
                let logits = p.classLogits.detach().slice(axis: 0, b..<(b + 1)).reshape([q, numClasses + 1])
                let classCost = -logits.softmax(axis: -1).indexSelect(axis: 1, target.labels)  // [Q, T]
                let masks = p.maskLogits.detach().slice(axis: 0, b..<(b + 1))
                let predicted = pointSample(masks.reshape([q, 1, masks.shape[2], masks.shape[3]]),
                                            Tensor.cat([Tensor](repeating: points, count: q), axis: 0)).reshape([q, numPoints])
                let t = target.masks
                let truth = pointSample(t.reshape([n, 1, t.shape[1], t.shape[2]]),
                                        Tensor.cat([Tensor](repeating: points, count: n), axis: 0)).reshape([n, numPoints])
                // Pairwise sigmoid cross-entropy and dice (the official batch_sigmoid_ce_loss, batch_dice_loss).
                let scale = 1 / Float(numPoints)
                let positive = Tensor.binaryCrossEntropyWithLogits(predicted, Tensor.ones(predicted.shape), reduction: .none)
                let negative = Tensor.binaryCrossEntropyWithLogits(predicted, Tensor.zeros(predicted.shape), reduction: .none)
                let maskCost = (positive * scale).matmul(truth.transpose(0, 1)) + (negative * scale).matmul((1 - truth).transpose(0, 1))
                let prob = predicted.sigmoid()
                let numerator = prob.matmul(truth.transpose(0, 1)) * 2
                let denominator = prob.sum(axis: 1).unsqueeze(1) + truth.sum(axis: 1).unsqueeze(0)
                let diceCost = 1 - (numerator + 1) / (denominator + 1)
                let cost = maskCost * costMask + classCost * costClass + diceCost * costDice
                let a = try linearSumAssignment(cost)
                result.append(MatchIndices(queries: a.rows, targets: a.columns))
            }
            return result
        }
    }

    /// Points [N, numPoints, 2] for the mask logits [N, 1, h, w] (no gradient): the most
    /// uncertain of the oversampled uniform points, then uniform ones.
    func importancePoints(_ logits: Tensor, using rng: inout SplitMix64) -> Tensor {
        let n = logits.shape[0]
        let sampled = Int(Float(numPoints) * oversampleRatio)
        let uncertain = Int(importanceSampleRatio * Float(numPoints))
        let candidates = Tensor.uniform([n, sampled, 2], using: &rng)
        let values = pointSample(logits, candidates)  // [N, 1, sampled]
        let out = Tensor.empty([n, numPoints, 2])
        for i in 0..<n {
            let row = values.data + i * sampled
            // The `uncertain` largest -|logit| (ties to the lower index, as a stable sort).
            let order = (0..<sampled).sorted { a, b in
                let ua = -Swift.abs(row[a]), ub = -Swift.abs(row[b])
                return ua > ub || (ua == ub && a < b)
            }
            for (k, j) in order.prefix(uncertain).enumerated() {
                out.data[(i * numPoints + k) * 2] = candidates.data[(i * sampled + j) * 2]
                out.data[(i * numPoints + k) * 2 + 1] = candidates.data[(i * sampled + j) * 2 + 1]
            }
        }
        if numPoints > uncertain {
            let random = Tensor.uniform([n, numPoints - uncertain, 2], using: &rng)
            for i in 0..<n {
                for k in 0..<(numPoints - uncertain) {
                    out.data[(i * numPoints + uncertain + k) * 2] = random.data[(i * (numPoints - uncertain) + k) * 2]
                    out.data[(i * numPoints + uncertain + k) * 2 + 1] = random.data[(i * (numPoints - uncertain) + k) * 2 + 1]
                }
            }
        }
        return out
    }

    /// The terms of one prediction given its matching.
    public func terms(_ p: Mask2FormerPrediction, _ targets: [Mask2FormerTarget], _ indices: [MatchIndices],
                      numMasks: Float, using rng: inout SplitMix64) throws -> Mask2FormerLossTerms {
        try validate(p, targets)
        let b = p.classLogits.shape[0], q = p.classLogits.shape[1]
        var classes = [Int](repeating: numClasses, count: b * q)
        var predictedRows: [Int] = [], targetMasks: [Tensor] = []
        for (i, m) in indices.enumerated() {
            for (query, target) in zip(m.queries, m.targets) {
                classes[i * q + query] = targets[i].labels[target]
                predictedRows.append(i * q + query)
            }
            if !m.targets.isEmpty { targetMasks.append(targets[i].masks.indexSelect(axis: 0, m.targets)) }
        }
        var weights = [Float](repeating: 1, count: numClasses + 1)
        weights[numClasses] = noObjectWeight
        let ce = Tensor.crossEntropy(p.classLogits.reshape([b * q, numClasses + 1]), IntTensor(classes),
                                     weight: Tensor(weights, shape: [numClasses + 1]))
        guard !predictedRows.isEmpty else { return Mask2FormerLossTerms(ce: ce, mask: Tensor.zeros([]), dice: Tensor.zeros([])) }
        let h = p.maskLogits.shape[2], w = p.maskLogits.shape[3]
        let predicted = p.maskLogits.reshape([b * q, h, w]).indexSelect(axis: 0, predictedRows).unsqueeze(1)  // [N, 1, h, w]
        let truth = Tensor.cat(targetMasks, axis: 0).unsqueeze(1)                                             // [N, 1, H, W]
        let points = withNoGrad { importancePoints(predicted.detach(), using: &rng) }
        let labels = withNoGrad { pointSample(truth, points).squeeze(1) }  // [N, P]
        let logits = pointSample(predicted, points).squeeze(1)
        let mask = Tensor.binaryCrossEntropyWithLogits(logits, labels, reduction: .none).mean(axis: 1).sum() / numMasks
        let dice = Tensor.diceLoss(logits, labels, reduction: .sum) / numMasks
        return Mask2FormerLossTerms(ce: ce, mask: mask, dice: dice)
    }

    /// Matches and scores every prediction (the last first, then the auxiliary ones, as the
    /// official criterion draws its points); returns them in prediction order.
    public func callAsFunction(_ predictions: [Mask2FormerPrediction], _ targets: [Mask2FormerTarget],
                               using rng: inout SplitMix64) throws -> Mask2FormerLosses {
        guard !predictions.isEmpty else { throw DETRInputError.invalidArgument("Mask2FormerCriterion: no predictions") }
        // The normalisers: the number of target masks, and the class-weight sum of the
        // cross-entropy (every target is matched when there are at least as many queries, so
        // it is known before matching), over every process in data-parallel training.
        let q = predictions[0].classLogits.shape.count == 3 ? predictions[0].classLogits.shape[1] : 0
        let matched = targets.reduce(0) { $0 + Swift.min($1.labels.count, q) }
        var counts = [Double(targets.map { $0.labels.count }.reduce(0, +)),
                      Double(matched) + Double(targets.count * q - matched) * Double(noObjectWeight)]
        let local = counts
        globalSum?(&counts)
        let numMasks = Swift.max(Float(counts[0]), 1)
        let ceShare: Float = counts[1] > 0 ? Float(local[1] / counts[1]) : 1
        var terms = [Mask2FormerLossTerms?](repeating: nil, count: predictions.count)
        var indices = [[MatchIndices]](repeating: [], count: predictions.count)
        for i in [predictions.count - 1] + Array(0..<(predictions.count - 1)) {
            indices[i] = try match(predictions[i], targets, using: &rng)
            terms[i] = try self.terms(predictions[i], targets, indices[i], numMasks: numMasks, using: &rng)
            if ceShare != 1 { terms[i]!.ce = terms[i]!.ce * ceShare }
        }
        let all = terms.map { $0! }
        var total = Tensor.zeros([])
        var named: [LossTerm] = []
        for (i, t) in all.enumerated() {
            total = total + t.ce * weightCE + t.mask * weightMask + t.dice * weightDice
            let suffix = i == all.count - 1 ? "" : "_\(i)"
            named += [LossTerm(name: "loss_ce" + suffix, weight: weightCE, value: t.ce),
                      LossTerm(name: "loss_mask" + suffix, weight: weightMask, value: t.mask),
                      LossTerm(name: "loss_dice" + suffix, weight: weightDice, value: t.dice)]
        }
        return Mask2FormerLosses(terms: all, indices: indices, total: total, named: named)
    }
}

extension Mask2FormerCriterion: TrainingCriterion {
    /// The trainer's view: the network's `DETROutput` (the last prediction, the earlier ones as
    /// `aux`; class logits and mask logits) and targets with masks; points drawn from
    /// SplitMix64(seed). Logs the last prediction's weighted terms.
    public func trainingLosses(_ output: DETROutput, _ targets: [DETRTarget], seed: UInt64) throws -> (total: Tensor, terms: [LossTerm]) {
        var predictions: [Mask2FormerPrediction] = []
        for o in output.aux + [output] {
            guard let masks = o.masks else { throw DETRInputError.invalidArgument("Mask2FormerCriterion: an output without mask logits") }
            predictions.append(Mask2FormerPrediction(classLogits: o.logits, maskLogits: masks))
        }
        var mask2formerTargets: [Mask2FormerTarget] = []
        for (b, t) in targets.enumerated() {
            guard let m = t.masks else {
                throw DETRInputError.invalidArgument("Mask2FormerCriterion: target \(b) has no masks (mask models train on data with masks)")
            }
            mask2formerTargets.append(Mask2FormerTarget(labels: t.labels, masks: m))
        }
        var rng = SplitMix64(seed: seed)
        let l = try self(predictions, mask2formerTargets, using: &rng)
        return (l.total, Array(l.named.suffix(3)))
    }
}
