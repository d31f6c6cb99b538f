import Tensor

/// The matched pairs of one image: `queries[k]` predicts target `targets[k]`; `queries` is
/// increasing (DETR's `(index_i, index_j)`).
public struct MatchIndices: Equatable, Sendable {
    public var queries: [Int]
    public var targets: [Int]

    public init(queries: [Int], targets: [Int]) {
        self.queries = queries
        self.targets = targets
    }

    public var count: Int { queries.count }
}

/// Bipartite matching between predictions and targets (DETR's `HungarianMatcher`).
///
/// Per image, the cost of predicting target j with query i is
/// `costBox * L1(box_i, box_j) + costClass * class_ij + costGIoU * -GIoU(box_i, box_j)`,
/// with L1 on normalised cxcywh boxes and GIoU on their xyxy form. The class cost follows the
/// output's scoring: softmax (DETR) `-prob_i[label_j]` over the C + 1 logits; sigmoid
/// (Conditional / Deformable DETR) the focal cost `alpha (1-p)^gamma (-log(p + 1e-8)) -
/// (1-alpha) p^gamma (-log(1-p + 1e-8))` with p = sigmoid(logit_i[label_j]). The optimal
/// one-to-one assignment of that cost matrix is exact (`linearSumAssignment`). An output with
/// several query groups (Group DETR) is matched group by group, each group's query indices
/// offset by g * Q. The matching takes no gradient.
public struct HungarianMatcher: Sendable {
    public var costClass: Float
    public var costBox: Float
    public var costGIoU: Float
    /// Parameters of the focal class cost (sigmoid scoring).
    public var focalAlpha: Float = 0.25
    public var focalGamma: Float = 2

    public init(costClass: Float = 1, costBox: Float = 5, costGIoU: Float = 2) {
        self.costClass = costClass
        self.costBox = costBox
        self.costGIoU = costGIoU
    }

    /// Matches every image of the batch. `output.aux` is ignored (match each aux output on its own).
    public func callAsFunction(_ output: DETROutput, _ targets: [DETRTarget]) throws -> [MatchIndices] {
        try match(output, targets)
    }

    public func match(_ output: DETROutput, _ targets: [DETRTarget]) throws -> [MatchIndices] {
        guard costClass != 0 || costBox != 0 || costGIoU != 0 else {
            throw DETRInputError.invalidArgument("HungarianMatcher: all costs are 0")
        }
        try output.validate()
        guard targets.count == output.batchSize else {
            throw DETRInputError.batchMismatch(outputs: output.batchSize, targets: targets.count)
        }
        for (b, t) in targets.enumerated() { try t.validate(numClasses: output.numClasses, image: b) }
        return try withNoGrad {
            let logits = output.logits.detach(), boxes = output.boxes.detach()
            let q = output.groupQueries
            var result: [MatchIndices] = []
            for (b, target) in targets.enumerated() {
                let image = { (t: Tensor) in t.slice(axis: 0, b..<(b + 1)).squeeze(0) }
                let imageLogits = image(logits), imageBoxes = image(boxes)
                var matched = MatchIndices(queries: [], targets: [])
                for g in 0..<output.groups {
                    let part = { (t: Tensor) in output.groups == 1 ? t : t.slice(axis: 0, (g * q)..<((g + 1) * q)) }
                    let cost = try costMatrix(logits: part(imageLogits), boxes: part(imageBoxes), target: target, scoring: output.scoring)
                    let a = try linearSumAssignment(cost)
                    matched.queries += a.rows.map { $0 + g * q }
                    matched.targets += a.columns
                }
                result.append(matched)
            }
            return result
        }
    }

    /// The cost matrix [queries, targets] of one image from its logits ([Q, C + 1] softmax,
    /// [Q, C] sigmoid) and boxes [Q, 4].
    public func costMatrix(logits: Tensor, boxes: Tensor, target: DETRTarget, scoring: ClassScoring = .softmax) throws -> Tensor {
        let extra = scoring == .softmax ? 1 : 0
        guard logits.rank == 2, logits.shape[1] >= 1 + extra else {
            throw DETRInputError.badShape(what: "costMatrix logits", expected: scoring == .softmax ? "[queries, classes + 1]" : "[queries, classes]",
                                          got: logits.shape)
        }
        guard boxes.shape == [logits.shape[0], 4] else {
            throw DETRInputError.badShape(what: "costMatrix boxes", expected: "[\(logits.shape[0]), 4]", got: boxes.shape)
        }
        try target.validate(numClasses: logits.shape[1] - extra, image: 0)
        let q = logits.shape[0], n = target.count
        if n == 0 { return Tensor.zeros([q, 0]) }
        let classCost: Tensor
        switch scoring {
        case .softmax:
            classCost = -logits.softmax(axis: -1).indexSelect(axis: 1, target.labels)    // [Q, N]
        case .sigmoid:
            let p = logits.indexSelect(axis: 1, target.labels).sigmoid()                  // [Q, N]
            let alpha = focalAlpha, gamma = focalGamma
            let negative = (1 - alpha) * p.pow(gamma) * -((1 - p) + 1e-8).log()
            let positive = alpha * (1 - p).pow(gamma) * -(p + 1e-8).log()
            classCost = positive - negative
        }
        let diff = boxes.unsqueeze(1) - target.boxes.unsqueeze(0)             // [Q, N, 4]
        let boxCost = diff.abs().sum(axis: 2)                                 // [Q, N]
        let giou = try generalizedBoxIoU(boxCxcywhToXyxy(boxes), boxCxcywhToXyxy(target.boxes))
        let giouCost = -giou                                                  // [Q, N]
        // The same order of terms as DETR's matcher, for the same rounding.
        let weightedBox = boxCost * costBox
        let weightedClass = classCost * costClass
        return weightedBox + weightedClass + giouCost * costGIoU
    }
}
