import Tensor

/// Weights of the loss terms in the total (DETR: ce 1, bbox 5, giou 2, mask 1, dice 1).
public struct LossWeights: Equatable, Sendable {
    public var ce: Float = 1
    public var bbox: Float = 5
    public var giou: Float = 2
    public var mask: Float = 1
    public var dice: Float = 1

    public init(ce: Float = 1, bbox: Float = 5, giou: Float = 2, mask: Float = 1, dice: Float = 1) {
        self.ce = ce
        self.bbox = bbox
        self.giou = giou
        self.mask = mask
        self.dice = dice
    }
}

/// The loss terms of one decoder output (scalars). `classError` (percent of matched queries
/// whose top class is wrong) is computed for the last layer only, as DETR logs it; the
/// mask terms only for the last layer and only when the output has masks (DETR skips them
/// for auxiliary layers too); the targets must then all have masks.
public struct LossTerms: Sendable {
    /// The classification loss over all queries (`loss_ce`): with softmax scoring the weighted
    /// cross-entropy ("no object" weighted by eosCoefficient); with sigmoid scoring the sigmoid
    /// focal loss summed over queries and classes and divided by the number of target boxes.
    public var ce: Tensor
    /// L1 between matched boxes (cxcywh), summed and divided by the number of target boxes.
    public var bbox: Tensor
    /// 1 - GIoU of matched boxes, summed and divided by the number of target boxes.
    public var giou: Tensor
    /// Mean absolute difference between the number of predicted objects and of targets.
    public var cardinalityError: Float
    public var classError: Float?
    public var mask: Tensor?
    public var dice: Tensor?

    /// `(name, value)` pairs with DETR's names plus `suffix` (e.g. "_0").
    public func logged(suffix: String = "") -> [(name: String, value: Float)] {
        var out: [(name: String, value: Float)] = [
            ("loss_ce" + suffix, ce.item), ("loss_bbox" + suffix, bbox.item), ("loss_giou" + suffix, giou.item),
        ]
        if let mask { out.append(("loss_mask" + suffix, mask.item)) }
        if let dice { out.append(("loss_dice" + suffix, dice.item)) }
        if let classError { out.append(("class_error" + suffix, classError)) }
        out.append(("cardinality_error" + suffix, cardinalityError))
        return out
    }
}

/// One named loss term with its weight in the total (`loss_ce`, weight 2, value ...).
public struct LossTerm: Sendable {
    public var name: String
    public var weight: Float
    public var value: Tensor

    public init(name: String, weight: Float, value: Tensor) {
        self.name = name
        self.weight = weight
        self.value = value
    }
}

/// All loss terms of a batch and their weighted total (the value to differentiate).
public struct DETRLosses: Sendable {
    public var main: LossTerms
    /// One per auxiliary decoder output, in the order of `DETROutput.aux` (names `_0`, `_1`, ...).
    public var aux: [LossTerms]
    public var total: Tensor
    /// The matching used for the main output.
    public var indices: [MatchIndices]

    /// The weighted terms of the last layer, in order (what a trainer logs and plots); the
    /// total is the sum of weight * value over these and the auxiliary layers' terms.
    public var terms: [LossTerm]

    /// Every term as `(name, value)` with DETR's names, for logging.
    public var logged: [(name: String, value: Float)] {
        var out = main.logged()
        for (i, a) in aux.enumerated() { out += a.logged(suffix: "_\(i)") }
        return out
    }
}

/// DETR's `SetCriterion`: matches predictions to targets, then computes the classification,
/// box and (optionally) mask losses for the final and every auxiliary decoder output.
public struct SetCriterion: Sendable {
    /// Number of real classes; outputs have numClasses + 1 logits.
    public var numClasses: Int
    public var matcher: HungarianMatcher
    public var weights: LossWeights
    /// Weight of the "no object" class in the cross-entropy.
    public var eosCoefficient: Float
    /// Focal loss parameters of the mask loss and of the class loss with sigmoid scoring.
    public var focalAlpha: Float = 0.25
    public var focalGamma: Float = 2
    /// Data-parallel training: sums a vector over the processes, each holding a part of the
    /// global batch (in place; every process calls it once per `losses`). The normalisers (the
    /// number of target boxes, the class-weight sum of the cross-entropy) are then the global
    /// batch's, so that the processes' losses add up to the loss of the whole batch and their
    /// gradients to its gradient. nil: one process.
    public var globalSum: (@Sendable (inout [Double]) -> Void)?

    public init(numClasses: Int, matcher: HungarianMatcher = HungarianMatcher(), weights: LossWeights = LossWeights(),
                eosCoefficient: Float = 0.1) {
        self.numClasses = numClasses
        self.matcher = matcher
        self.weights = weights
        self.eosCoefficient = eosCoefficient
    }

    /// Class weights [C + 1]: 1 for real classes, eosCoefficient for "no object".
    public var classWeights: Tensor {
        var w = [Float](repeating: 1, count: numClasses + 1)
        w[numClasses] = eosCoefficient
        return Tensor(w, shape: [numClasses + 1])
    }

    public func callAsFunction(_ output: DETROutput, _ targets: [DETRTarget]) throws -> DETRLosses {
        try losses(output, targets)
    }

    public func losses(_ output: DETROutput, _ targets: [DETRTarget]) throws -> DETRLosses {
        guard numClasses >= 1 else { throw DETRInputError.invalidArgument("SetCriterion: numClasses must be positive") }
        guard output.numClasses == numClasses else {
            let width = numClasses + (output.scoring == .softmax ? 1 : 0)
            throw DETRInputError.badShape(what: "logits", expected: "[batch, queries, \(width)]", got: output.logits.shape)
        }
        for a in output.aux {
            guard a.numClasses == numClasses, a.batchSize == output.batchSize else {
                throw DETRInputError.badShape(what: "aux logits", expected: "\(output.logits.shape)", got: a.logits.shape)
            }
        }
        let indices = try matcher(output, targets)
        let auxIndices = try output.aux.map { try matcher($0, targets) }
        // The normalisers: the number of target boxes, and each output's class-weight sum of
        // the cross-entropy (over every process in data-parallel training).
        var counts = [Double(targets.reduce(0) { $0 + $1.count }), classWeightSum(output, targets, indices)]
        for (a, ai) in zip(output.aux, auxIndices) { counts.append(classWeightSum(a, targets, ai)) }
        let local = counts
        globalSum?(&counts)
        // The share of each output's cross-entropy mean that this batch holds (1: one process).
        let shares = (1..<counts.count).map { counts[$0] > 0 ? Float(local[$0] / counts[$0]) : 1 }
        // Normalise by the number of target boxes (at least 1), as DETR on one process; with
        // K query groups by K times that, so that the loss is the mean of the groups' losses.
        let numBoxes = Float(Swift.max(Int(counts[0]), 1) * output.groups)
        var main = try terms(output, targets, indices, numBoxes: numBoxes, ceShare: shares[0], withClassError: true)
        if output.masks != nil {
            // The mask terms need every target's masks: a missing one is an error, not a skip.
            let (focal, dice) = try maskLosses(output, targets, indices, numBoxes: numBoxes)
            main.mask = focal
            main.dice = dice
        }
        var aux: [LossTerms] = []
        for (k, a) in output.aux.enumerated() {
            aux.append(try terms(a, targets, auxIndices[k], numBoxes: numBoxes, ceShare: shares[k + 1], withClassError: false))
        }
        var total = weighted(main)
        for a in aux { total = total + weighted(a) }
        return DETRLosses(main: main, aux: aux, total: total, indices: indices, terms: named(main))
    }

    /// The terms of one output with their weights, DETR's names.
    func named(_ t: LossTerms) -> [LossTerm] {
        var out = [LossTerm(name: "loss_ce", weight: weights.ce, value: t.ce), LossTerm(name: "loss_bbox", weight: weights.bbox, value: t.bbox),
                   LossTerm(name: "loss_giou", weight: weights.giou, value: t.giou)]
        if let mask = t.mask { out.append(LossTerm(name: "loss_mask", weight: weights.mask, value: mask)) }
        if let dice = t.dice { out.append(LossTerm(name: "loss_dice", weight: weights.dice, value: dice)) }
        return out
    }

    /// The weighted sum of one output's terms.
    func weighted(_ t: LossTerms) -> Tensor {
        var sum = t.ce * weights.ce + t.bbox * weights.bbox
        sum = sum + t.giou * weights.giou
        if let mask = t.mask { sum = sum + mask * weights.mask }
        if let dice = t.dice { sum = sum + dice * weights.dice }
        return sum
    }

    func terms(_ output: DETROutput, _ targets: [DETRTarget], _ indices: [MatchIndices], numBoxes: Float,
               ceShare: Float = 1, withClassError: Bool) throws -> LossTerms {
        var (ce, classError) = labelLoss(output, targets, indices, numBoxes: numBoxes)
        if output.scoring == .softmax && ceShare != 1 { ce = ce * ceShare }
        let (bbox, giou) = try boxLosses(output, targets, indices, numBoxes: numBoxes)
        return LossTerms(ce: ce, bbox: bbox, giou: giou, cardinalityError: cardinalityError(output, targets),
                         classError: withClassError ? classError : nil)
    }

    /// The target class of every query, b * Q + q: the matched target's, else "no object".
    func queryClasses(_ output: DETROutput, _ targets: [DETRTarget], _ indices: [MatchIndices]) -> [Int] {
        let q = output.numQueries
        var classes = [Int](repeating: numClasses, count: output.batchSize * q)
        for (img, m) in indices.enumerated() {
            for (qi, ti) in zip(m.queries, m.targets) { classes[img * q + qi] = targets[img].labels[ti] }
        }
        return classes
    }

    /// The sum of the class weights of every query's target (the divisor of the weighted
    /// cross-entropy's mean): matched queries 1, the others `eosCoefficient`.
    func classWeightSum(_ output: DETROutput, _ targets: [DETRTarget], _ indices: [MatchIndices]) -> Double {
        let matched = indices.reduce(0) { $0 + $1.queries.count }
        return Double(matched) + Double(output.batchSize * output.numQueries - matched) * Double(eosCoefficient)
    }

    /// Flat indices b * Q + q of the matched queries, image by image.
    func matchedQueries(_ indices: [MatchIndices], queries: Int) -> [Int] {
        indices.enumerated().flatMap { b, m in m.queries.map { b * queries + $0 } }
    }

    /// The class loss over every query (unmatched ones target "no object") and the class error
    /// of the matched queries in percent (100 when nothing is matched, as DETR). Softmax
    /// scoring: weighted cross-entropy; sigmoid scoring: focal loss against one-hot targets
    /// (all zeros for "no object"), summed and divided by `numBoxes` (Deformable / Conditional
    /// DETR's `loss_labels`).
    func labelLoss(_ output: DETROutput, _ targets: [DETRTarget], _ indices: [MatchIndices], numBoxes: Float) -> (ce: Tensor, classError: Float) {
        let b = output.batchSize, q = output.numQueries, width = output.logits.shape[2]
        let classes = queryClasses(output, targets, indices)
        let flat = output.logits.reshape([b * q, width])
        let ce: Tensor
        switch output.scoring {
        case .softmax:
            ce = Tensor.crossEntropy(flat, IntTensor(classes), weight: classWeights)
        case .sigmoid:
            let onehot = Tensor.zeros([b * q, width])
            for (k, c) in classes.enumerated() where c < width { onehot.data[k * width + c] = 1 }
            ce = Tensor.sigmoidFocalLoss(flat, onehot, alpha: focalAlpha, gamma: focalGamma, reduction: .sum) / numBoxes
        }
        // Class error: top-1 over all logits of the matched queries.
        let matched = matchedQueries(indices, queries: q)
        var correct = 0
        let p = output.logits.data
        for k in matched {
            var best = 0
            for j in 1..<width where p[k * width + j] > p[k * width + best] { best = j }
            if best == classes[k] { correct += 1 }
        }
        let accuracy = matched.isEmpty ? 0 : 100 * Float(correct) / Float(matched.count)
        return (ce, 100 - accuracy)
    }

    /// |number of queries whose top logit is not the last one - number of targets|, averaged
    /// over the batch (logged only, no gradient). With softmax scoring the last logit is "no
    /// object"; with sigmoid scoring this is the official code's same formula on C logits.
    func cardinalityError(_ output: DETROutput, _ targets: [DETRTarget]) -> Float {
        let b = output.batchSize, q = output.numQueries, width = output.logits.shape[2]
        let p = output.logits.data
        var total: Float = 0
        for img in 0..<b {
            var predicted = 0
            for qi in 0..<q {
                let row = (img * q + qi) * width
                var best = 0
                for j in 1..<width where p[row + j] > p[row + best] { best = j }
                if best != width - 1 { predicted += 1 }
            }
            total += Swift.abs(Float(predicted - targets[img].count))
        }
        return total / Float(Swift.max(b, 1))
    }

    /// L1 and GIoU losses of the matched boxes, each summed and divided by `numBoxes`.
    func boxLosses(_ output: DETROutput, _ targets: [DETRTarget], _ indices: [MatchIndices],
                          numBoxes: Float) throws -> (bbox: Tensor, giou: Tensor) {
        let q = output.numQueries
        let matched = matchedQueries(indices, queries: q)
        if matched.isEmpty { return (Tensor(scalar: 0), Tensor(scalar: 0)) }
        let source = output.boxes.reshape([output.batchSize * q, 4]).indexSelect(axis: 0, matched)   // [M, 4]
        let parts = zip(targets, indices).filter { $0.1.count > 0 }.map { $0.0.boxes.indexSelect(axis: 0, $0.1.targets) }
        let target = Tensor.cat(parts, axis: 0)                                                          // [M, 4]
        let bbox = Tensor.l1Loss(source, target, reduction: .sum) / numBoxes
        let giou = try generalizedBoxIoUPaired(boxCxcywhToXyxy(source), boxCxcywhToXyxy(target))
        return (bbox, (1 - giou).sum() / numBoxes)
    }

    /// Focal and dice losses of the matched masks (DETR's `loss_masks`): target masks are
    /// zero-padded to the largest size in the batch, predicted mask logits are upsampled
    /// bilinearly to that size.
    func maskLosses(_ output: DETROutput, _ targets: [DETRTarget], _ indices: [MatchIndices],
                           numBoxes: Float) throws -> (focal: Tensor, dice: Tensor) {
        guard let masks = output.masks else { throw DETRInputError.invalidArgument("maskLosses: the output has no masks") }
        var height = 0, width = 0
        for (b, t) in targets.enumerated() {
            guard let m = t.masks, m.rank == 3 else {
                throw DETRInputError.invalidArgument("maskLosses: target \(b) has no masks [N, H, W]")
            }
            height = Swift.max(height, m.shape[1])
            width = Swift.max(width, m.shape[2])
        }
        let q = output.numQueries, h = masks.shape[2], w = masks.shape[3]
        let matched = matchedQueries(indices, queries: q)
        if matched.isEmpty { return (Tensor(scalar: 0), Tensor(scalar: 0)) }
        let predicted = masks.reshape([output.batchSize * q, h, w]).indexSelect(axis: 0, matched)
        var parts: [Tensor] = []
        for (t, m) in zip(targets, indices) where m.count > 0 {
            let tm = t.masks!
            let padded = tm.pad([(0, height - tm.shape[1]), (0, width - tm.shape[2])])
            parts.append(padded.indexSelect(axis: 0, m.targets))
        }
        return try maskFocalDiceLosses(predicted, Tensor.cat(parts, axis: 0), numBoxes: numBoxes,
                                       alpha: focalAlpha, gamma: focalGamma)
    }
}

/// DETR's mask losses for matched masks: `logits` [N, h, w] (mask logits), `targets`
/// [N, H, W] (binary). The logits are upsampled bilinearly (align_corners false) to H x W;
/// focal = sum over masks of the per-pixel mean sigmoid focal loss / numBoxes;
/// dice = sum over masks of 1 - (2 sum(p t) + 1) / (sum p + sum t + 1), / numBoxes.
public func maskFocalDiceLosses(_ logits: Tensor, _ targets: Tensor, numBoxes: Float,
                                alpha: Float = 0.25, gamma: Float = 2) throws -> (focal: Tensor, dice: Tensor) {
    guard logits.rank == 3, targets.rank == 3, logits.shape[0] == targets.shape[0] else {
        throw DETRInputError.badShape(what: "mask losses", expected: "logits [N, h, w] and targets [N, H, W]",
                                      got: logits.shape + targets.shape)
    }
    let n = logits.shape[0], height = targets.shape[1], width = targets.shape[2]
    if n == 0 { return (Tensor(scalar: 0), Tensor(scalar: 0)) }
    guard height > 0, width > 0, numBoxes > 0 else {
        throw DETRInputError.invalidArgument("mask losses: empty target masks or numBoxes <= 0")
    }
    var up = logits.unsqueeze(1)                                              // [N, 1, h, w]
    if logits.shape[1] != height || logits.shape[2] != width {
        up = up.interpolateBilinear(height, width)                            // [N, 1, H, W]
    }
    let x = up.reshape([n, height * width])
    let t = targets.reshape([n, height * width])
    let focal = Tensor.sigmoidFocalLoss(x, t, alpha: alpha, gamma: gamma, reduction: .none).mean(axis: 1).sum() / numBoxes
    let dice = Tensor.diceLoss(x, t, reduction: .sum) / numBoxes
    return (focal, dice)
}
