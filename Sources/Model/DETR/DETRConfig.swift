import Base
import NN
import Tensor

/// Hyper-parameters of DETR with the paper's defaults (Carion et al. 2020; the official
/// facebookresearch/detr `main.py` arguments), plus the options that make it converge on
/// small data: sigmoid focal classification (`classLoss = .sigmoid`: C logits with the
/// prior bias, focal matching cost, top-k inference, zero-initialised last box layer), Group
/// DETR's query groups and stride-16 features (`backboneStages = 3`).
public struct DETRConfig: Equatable, Sendable, Codable {
    public var numQueries = 100
    public var dModel = 256
    public var heads = 8
    public var encoderLayers = 6
    public var decoderLayers = 6
    public var feedForward = 2048
    public var dropout: Float = 0.1
    public var preNorm = false
    public var auxLoss = true
    /// Real classes (the classifier has numClasses + 1 outputs); DETR's COCO value is 91.
    public var numClasses = 91
    public var backbone: ResNetDepth = .resnet50
    /// Frozen for pretrained weights, trainable when training from scratch.
    public var backboneNorm: BackboneNorm = .frozen
    /// DC5: dilate layer4 instead of striding it.
    public var dilation = false
    /// Backbone stages: 4 (stride 32) or 3 (ends at layer3, stride 16).
    public var backboneStages = 4
    /// Query groups trained at once (Group DETR; 1 = plain DETR). Inference uses group 0.
    public var groups = 1
    /// softmax: cross-entropy over C + 1 logits with "no object" (DETR); sigmoid: focal loss
    /// over C logits.
    public var classLoss: ClassScoring = .softmax
    /// The segmentation head (DETRsegm) on top.
    public var maskHead = false
    public var positionEncoding: PositionEncodingKind = .sine
    /// Matcher costs.
    public var costClass: Float = 1
    public var costBox: Float = 5
    public var costGIoU: Float = 2
    /// Loss weights.
    public var lossCE: Float = 1
    public var lossBox: Float = 5
    public var lossGIoU: Float = 2
    /// Weight of the "no object" class in the cross-entropy.
    public var eosCoefficient: Float = 0.1
    /// Optimiser.
    public var learningRate: Float = 1e-4
    public var backboneLearningRate: Float = 1e-5
    public var weightDecay: Float = 1e-4
    public var clipMaxNorm: Float = 0.1

    public init() {}

    /// What the segmentation head additionally needs: its group norms (8 groups) run over
    /// `dModel + heads` and `dModel / 2, / 4, / 8, / 16` channels.
    public func maskHeadProblems() -> [String] {
        var out: [String] = []
        if (dModel + heads) % 8 != 0 { out.append("the mask head needs dModel + heads (\(dModel + heads)) divisible by 8") }
        if dModel % 128 != 0 { out.append("the mask head needs dModel (\(dModel)) divisible by 128 (group norms over dModel/16 channels in 8 groups)") }
        return out
    }

    /// Checks the relations the layers rely on; returns a message for each violation.
    public func problems() -> [String] {
        var out = transformerProblems()
        if dModel % 2 != 0 { out.append("dModel (\(dModel)) must be even for the sine position encoding") }
        if maskHead {
            out += maskHeadProblems()
            if backboneStages != 4 { out.append("the mask head needs all 4 backbone stages") }
        }
        return out
    }
}

extension DETRConfig: TransformerDetectorConfig {
    public static let family = "detr"
    public static let summary = "DETR (Carion et al. 2020), softmax or sigmoid focal classification, optional mask head"

    public func makeNetwork(using rng: inout SplitMix64) -> any DetectionNetwork {
        maskHead ? DETRSegmentation(self, using: &rng) : DETR(self, using: &rng)
    }

    public func makeCriterion() -> SetCriterion {
        SetCriterion(numClasses: numClasses, matcher: HungarianMatcher(costClass: costClass, costBox: costBox, costGIoU: costGIoU),
                     weights: LossWeights(ce: lossCE, bbox: lossBox, giou: lossGIoU), eosCoefficient: eosCoefficient)
    }

    public mutating func apply(_ s: ArchitectureSettings) -> [String] {
        applyTransformerSettings(s)
        if let v = s.maskHead { maskHead = v }
        if let v = s.classLoss, v != classLoss {
            classLoss = v
            // The focal recipe's costs and weights (Deformable / Conditional DETR): class 2, L1 5, GIoU 2.
            if v == .sigmoid { costClass = 2; lossCE = 2 } else { costClass = 1; lossCE = 1 }
        }
        return []
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
        try c.readTransformerShapes(s)
        c.positionEncoding = s.has("backbone.1.row_embed.weight") ? .learned : .sine
        c.auxLoss = true
        if let p = c.problems().first { throw StateDictError(p) }
        return c
    }
}
