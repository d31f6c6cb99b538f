import Base
import NN
import Tensor

/// Hyper-parameters of Conditional DETR (Meng et al. 2021) with the official
/// Atten4Vis/ConditionalDETR defaults, and Group DETR's query groups (Chen et al. 2022;
/// the paper uses 11).
public struct ConditionalDETRConfig: Equatable, Sendable, Codable {
    public var numQueries = 300
    public var dModel = 256
    public var heads = 8
    public var encoderLayers = 6
    public var decoderLayers = 6
    public var feedForward = 2048
    public var dropout: Float = 0.1
    public var auxLoss = true
    /// Real classes; the classifier has exactly this many sigmoid outputs (COCO: 91).
    public var numClasses = 91
    public var backbone: ResNetDepth = .resnet50
    public var backboneNorm: BackboneNorm = .frozen
    /// DC5: dilate layer4 instead of striding it.
    public var dilation = false
    /// Backbone stages: 4 (stride 32) or 3 (ends at layer3, stride 16).
    public var backboneStages = 4
    /// Query groups trained at once (Group DETR); inference uses group 0.
    public var groups = 1
    /// Matcher costs (focal class cost).
    public var costClass: Float = 2
    public var costBox: Float = 5
    public var costGIoU: Float = 2
    /// Loss weights (sigmoid focal loss, L1, GIoU).
    public var lossClass: Float = 2
    public var lossBox: Float = 5
    public var lossGIoU: Float = 2
    public var focalAlpha: Float = 0.25

    public init() {}

    public func problems() -> [String] {
        var out = transformerProblems()
        if dModel % 4 != 0 { out.append("dModel (\(dModel)) must be a multiple of 4 (sine embeddings of positions and reference points)") }
        return out
    }
}

extension ConditionalDETRConfig: TransformerDetectorConfig {
    public static let family = "conditional-detr"
    public static let summary = "Conditional DETR (Meng et al. 2021): conditional cross-attention around learned reference points, sigmoid focal loss"

    public func makeNetwork(using rng: inout SplitMix64) -> any DetectionNetwork { ConditionalDETR(self, using: &rng) }

    public func makeCriterion() -> SetCriterion {
        var matcher = HungarianMatcher(costClass: costClass, costBox: costBox, costGIoU: costGIoU)
        matcher.focalAlpha = focalAlpha
        var c = SetCriterion(numClasses: numClasses, matcher: matcher, weights: LossWeights(ce: lossClass, bbox: lossBox, giou: lossGIoU))
        c.focalAlpha = focalAlpha
        return c
    }

    public mutating func apply(_ s: ArchitectureSettings) -> [String] {
        var out: [String] = []
        applyTransformerSettings(s)
        if s.classLoss == .softmax { out.append("conditional-detr has sigmoid focal classification only") }
        if s.maskHead == true { out.append("conditional-detr has no mask head") }
        return out
    }

    public static func recognises(_ keys: Set<String>) -> Bool {
        keys.contains("transformer.decoder.ref_point_head.layers.0.weight")
    }

    /// Classes (the class head's rows), width, queries, layer counts, feed-forward width and
    /// the backbone from the shapes; heads and dilation cannot be read (8, false).
    public static func inferred(from shapes: [String: [Int]], numClasses: Int?) throws -> ConditionalDETRConfig {
        let s = StateDictShapes(shapes)
        var c = ConditionalDETRConfig()
        let cls = try s.shape("class_embed.weight")
        guard cls.count == 2, cls[0] >= 1 else { throw StateDictError("class_embed.weight has shape \(cls)") }
        c.numClasses = cls[0]
        try c.readTransformerShapes(s)
        if let p = c.problems().first { throw StateDictError(p) }
        return c
    }
}
