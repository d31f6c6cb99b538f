import Base
import NN
import Tensor

/// Hyper-parameters of DETR with the paper's defaults (Carion et al. 2020; the official
/// facebookresearch/detr `main.py` arguments), plus the options that make it converge on
/// small data: sigmoid focal classification (`classLoss = .sigmoid`: C logits with the
/// prior bias, focal matching cost, top-k inference, zero-initialised last box layer), Group
/// DETR's query groups and stride-16 features (`backboneStages = 3`).
public struct DETRConfig: Equatable, Sendable, Codable {
    /// 100 queries, class cost 1 (2 with the focal recipe).
    public var shared = QueryDetectorSettings(numQueries: 100, costClass: 1)
    public var own = DETRSettings()

    public init() {}

    /// What the segmentation head additionally needs: its group norms (8 groups) run over
    /// `dModel + heads` and `dModel / 2, / 4, / 8, / 16` channels.
    public func maskHeadProblems() -> [String] {
        var out: [String] = []
        if (self.dModel + self.heads) % 8 != 0 { out.append("the mask head needs dModel + heads (\(self.dModel + self.heads)) divisible by 8") }
        if self.dModel % 128 != 0 { out.append("the mask head needs dModel (\(self.dModel)) divisible by 128 (group norms over dModel/16 channels in 8 groups)") }
        return out
    }

    /// Panoptic: whether class `label` is a thing (every class when `thingClasses` is absent).
    public func isThing(_ label: Int) -> Bool { self.thingClasses?.contains(label) ?? true }

    /// Checks the relations the layers rely on; returns a message for each violation.
    public func problems() -> [String] {
        var out = sharedProblems()
        if self.dModel % 2 != 0 { out.append("dModel (\(self.dModel)) must be even for the sine position encoding") }
        if self.maskHead {
            out += maskHeadProblems()
            if self.backboneStages != 4 { out.append("the mask head needs all 4 backbone stages") }
        }
        if self.task == .semantic { out.append("DETR's mask head predicts instances or panoptic segments, not semantic regions") }
        if self.task != nil && !self.maskHead { out.append("a task (\(self.task!.rawValue)) needs the mask head") }
        if self.task == .panoptic && self.classLoss == .sigmoid {
            out.append("DETR's panoptic post-processing scores with a softmax over the classes and \"no object\" (classLoss softmax, not focal)")
        }
        if let bad = self.thingClasses?.first(where: { $0 < 0 || $0 >= numClasses }) {
            out.append("thing class \(bad) is outside 0..<\(numClasses)")
        }
        if let t = self.panopticThreshold, !(t >= 0 && t <= 1) { out.append("panopticThreshold (\(t)) must be in [0, 1]") }
        return out
    }
}

/// What only DETR sets: pre-norm layers, the class scoring, the mask head, the position
/// encoding, the class loss and the optimiser settings of the official `main.py`.
public struct DETRSettings: Equatable, Sendable, Codable {
    public var preNorm = false
    /// softmax: cross-entropy over C + 1 logits with "no object" (DETR); sigmoid: focal loss
    /// over C logits.
    public var classLoss: ClassScoring = .softmax
    /// The segmentation head (DETRsegm) on top.
    public var maskHead = false
    /// With the mask head: the task of the checkpoint's results (`predict` writes panoptic
    /// segments for `.panoptic`; nil: instances). Semantic is a mask classifier's task.
    public var task: SegmentationTask?
    /// Panoptic: the thing classes (class ids); the others are stuff, their masks merged per
    /// class (PostProcessPanoptic's `is_thing_map`). Absent: every class is a thing.
    public var thingClasses: [Int]?
    /// Panoptic: smallest class probability of a kept query (nil: the official 0.85).
    public var panopticThreshold: Float?
    public var positionEncoding: PositionEncodingKind = .sine
    /// Weight of the class loss.
    public var lossCE: Float = 1
    /// Weight of the "no object" class in the cross-entropy.
    public var eosCoefficient: Float = 0.1
    /// Optimiser.
    public var learningRate: Float = 1e-4
    public var backboneLearningRate: Float = 1e-5
    public var weightDecay: Float = 1e-4
    public var clipMaxNorm: Float = 0.1
}

extension DETRConfig: TransformerDetectorConfig {
    public static let family = "detr"
    public static let summary = "DETR (Carion et al. 2020), softmax or sigmoid focal classification, optional mask head"

    public func makeNetwork(using rng: inout SplitMix64) -> any DetectionNetwork {
        self.maskHead ? DETRSegmentation(self, using: &rng) : DETR(self, using: &rng)
    }

    public func makeCriterion() -> SetCriterion {
        SetCriterion(numClasses: numClasses, matcher: HungarianMatcher(costClass: self.costClass, costBox: self.costBox, costGIoU: self.costGIoU),
                     weights: LossWeights(ce: self.lossCE, bbox: self.lossBox, giou: self.lossGIoU), eosCoefficient: self.eosCoefficient)
    }

    public mutating func apply(_ s: ArchitectureSettings) -> [String] {
        applySharedSettings(s)
        if let v = s.maskHead { self.maskHead = v }
        if let v = s.classLoss, v != self.classLoss {
            self.classLoss = v
            // The focal recipe's costs and weights (Deformable / Conditional DETR): class 2, L1 5, GIoU 2.
            if v == .sigmoid { self.costClass = 2; self.lossCE = 2 } else { self.costClass = 1; self.lossCE = 1 }
        }
        return s.maskPoints != nil ? ["detr's mask losses use every pixel (mask points are mask2former's)"] : []
    }

    public static func recognises(_ keys: Set<String>) -> Bool {
        keys.contains("class_embed.weight") && keys.contains { $0.hasSuffix("decoder.layers.0.multihead_attn.in_proj_weight") }
            || keys.contains("detr.class_embed.weight")
    }

    /// Classes and width from the heads, queries, layer counts, feed-forward width, backbone
    /// depth and stages, the position encoding and the mask head (`detr.` keys). Heads and
    /// dilation cannot be read from shapes (8, false); a class head of C rows is sigmoid
    /// scoring when `numClasses` is C, else C - 1 classes with softmax.
    public static func inferred(from shapes: [String: [Int]], numClasses: Int?) throws -> DETRConfig {
        let maskHead = shapes.keys.contains { $0.hasPrefix("detr.") }
        let s = StateDictShapes(shapes, prefix: maskHead ? "detr." : "")
        var c = DETRConfig()
        c.maskHead = maskHead
        let cls = try s.shape("class_embed.weight")
        guard cls.count == 2, cls[0] >= 1 else { throw StateDictError("class_embed.weight has shape \(cls)") }
        if let numClasses, numClasses == cls[0] {
            c.classLoss = .sigmoid
            c.costClass = 2
            c.lossCE = 2
            c.numClasses = cls[0]
        } else {
            guard cls[0] >= 2 else { throw StateDictError("class_embed.weight has shape \(cls)") }
            c.numClasses = cls[0] - 1
        }
        try c.readSharedShapes(s)
        c.positionEncoding = s.has("backbone.1.row_embed.weight") ? .learned : .sine
        c.auxLoss = true
        if let p = c.problems().first { throw StateDictError(p) }
        return c
    }
}
