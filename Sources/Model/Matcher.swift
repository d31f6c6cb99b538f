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
/// `costBox * L1(box_i, box_j) + costClass * -prob_i[label_j] + costGIoU * -GIoU(box_i, box_j)`,
/// with probabilities from a softmax over the C + 1 logits, L1 on normalised cxcywh boxes and
/// GIoU on their xyxy form; the optimal one-to-one assignment of that cost matrix is exact
/// (`linearSumAssignment`). The matching takes no gradient.
public struct HungarianMatcher: Sendable {
    public var costClass: Float
    public var costBox: Float
    public var costGIoU: Float

    public init(costClass: Float = 1, costBox: Float = 5, costGIoU: Float = 2) {
        self.costClass = costClass
        self.costBox = costBox
        self.costGIoU = costGIoU
    }

    public init(config: DETRConfig) {
        self.init(costClass: config.costClass, costBox: config.costBox, costGIoU: config.costGIoU)
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
            var result: [MatchIndices] = []
            for (b, target) in targets.enumerated() {
                let image = { (t: Tensor) in t.slice(axis: 0, b..<(b + 1)).squeeze(0) }
                let cost = try costMatrix(logits: image(logits), boxes: image(boxes), target: target)
                let a = try linearSumAssignment(cost)
                result.append(MatchIndices(queries: a.rows, targets: a.columns))
            }
            return result
        }
    }

    /// The cost matrix [queries, targets] of one image from its logits [Q, C + 1] and boxes [Q, 4].
    public func costMatrix(logits: Tensor, boxes: Tensor, target: DETRTarget) throws -> Tensor {
        guard logits.rank == 2, logits.shape[1] >= 2 else {
            throw DETRInputError.badShape(what: "costMatrix logits", expected: "[queries, classes + 1]", got: logits.shape)
        }
        guard boxes.shape == [logits.shape[0], 4] else {
            throw DETRInputError.badShape(what: "costMatrix boxes", expected: "[\(logits.shape[0]), 4]", got: boxes.shape)
        }
        try target.validate(numClasses: logits.shape[1] - 1, image: 0)
        let q = logits.shape[0], n = target.count
        if n == 0 { return Tensor.zeros([q, 0]) }
        let prob = logits.softmax(axis: -1)                                   // [Q, C+1]
        let classCost = -prob.indexSelect(axis: 1, target.labels)             // [Q, N]
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
