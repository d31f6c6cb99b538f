/// How a loss reduces its per-element values.
public enum Reduction: Sendable {
    case none, sum, mean
}

extension Tensor {
    func reduced(_ r: Reduction) -> Tensor {
        switch r {
        case .none: return self
        case .sum: return sum()
        case .mean: return mean()
        }
    }

    /// Cross-entropy of logits [N, C] against class indices [N], with optional class weights
    /// [C]: PyTorch's weighted mean, sum_i w[y_i] * -log p[i, y_i] / sum_i w[y_i].
    public static func crossEntropy(_ logits: Tensor, _ targets: IntTensor, weight: Tensor? = nil,
                                    reduction: Reduction = .mean) -> Tensor {
        precondition(logits.rank == 2 && targets.shape == [logits.shape[0]],
                     "crossEntropy: logits \(logits.shape) with targets \(targets.shape)")
        let c = logits.shape[1]
        for t in targets.values { precondition(t >= 0 && t < c, "crossEntropy: target \(t) out of range for \(c) classes") }
        let nll = -logits.logSoftmax(axis: 1).gather(axis: 1, index: IntTensor(targets.values, shape: [targets.count, 1])).reshape([targets.count])
        guard let weight else { return nll.reduced(reduction) }
        precondition(weight.shape == [c], "crossEntropy: weight \(weight.shape) for \(c) classes")
        let w = weight.indexSelect(axis: 0, targets.values)
        let weighted = nll * w
        switch reduction {
        case .none: return weighted
        case .sum: return weighted.sum()
        case .mean: return weighted.sum() / w.sum()
        }
    }

    /// Binary cross-entropy on logits, in the stable form max(x, 0) - x t + log(1 + e^-|x|).
    public static func binaryCrossEntropyWithLogits(_ logits: Tensor, _ targets: Tensor, reduction: Reduction = .mean) -> Tensor {
        let x = logits
        let loss = x.relu() - x * targets + ((-x.abs()).exp() + 1).log()
        return loss.reduced(reduction)
    }

    /// Sigmoid focal loss (Lin et al.; DETR's `sigmoid_focal_loss` without its normalisation):
    /// alpha_t * (1 - p_t)^gamma * BCE, elementwise, then reduced. `alpha < 0` disables the
    /// alpha weighting.
    public static func sigmoidFocalLoss(_ logits: Tensor, _ targets: Tensor, alpha: Float = 0.25, gamma: Float = 2,
                                        reduction: Reduction = .none) -> Tensor {
        let p = logits.sigmoid()
        let ce = binaryCrossEntropyWithLogits(logits, targets, reduction: .none)
        let pt = p * targets + (1 - p) * (1 - targets)
        var loss = ce * (1 - pt).pow(gamma)
        if alpha >= 0 {
            loss = loss * (targets * alpha + (1 - targets) * (1 - alpha))
        }
        return loss.reduced(reduction)
    }

    /// Mean (or sum) absolute error.
    public static func l1Loss(_ a: Tensor, _ b: Tensor, reduction: Reduction = .mean) -> Tensor {
        (a - b).abs().reduced(reduction)
    }

    /// Dice loss per row of [N, D] logits against binary targets (DETR's `dice_loss` before
    /// its division by the number of boxes): 1 - (2 sum(p t) + 1) / (sum p + sum t + 1).
    public static func diceLoss(_ logits: Tensor, _ targets: Tensor, reduction: Reduction = .sum) -> Tensor {
        let p = logits.sigmoid().flatten(from: 1)
        let t = targets.flatten(from: 1)
        let numerator = (p * t).sum(axis: 1) * 2 + 1
        let denominator = p.sum(axis: 1) + t.sum(axis: 1) + 1
        return (1 - numerator / denominator).reduced(reduction)
    }
}
