import Base
import NN
import Tensor

/// Hyper-parameters of Conditional DETR (Meng et al. 2021) with the official
/// Atten4Vis/ConditionalDETR defaults, and Group DETR's query groups (Chen et al. 2022;
/// the paper uses 11).
public struct ConditionalDETRConfig: Equatable, Sendable, Codable {
    /// 300 queries, focal class cost 2; the classifier has exactly `numClasses` sigmoid outputs.
    public var shared = QueryDetectorSettings(numQueries: 300, costClass: 2)
    public var own = ConditionalDETRSettings()

    public init() {}

    public func problems() -> [String] {
        var out = sharedProblems()
        if shared.dModel % 4 != 0 {
            out.append("dModel (\(shared.dModel)) must be a multiple of 4 (sine embeddings of positions and reference points)")
        }
        return out
    }
}

/// What only Conditional DETR sets: its class loss (sigmoid focal) weight and alpha.
public struct ConditionalDETRSettings: Equatable, Sendable, Codable {
    public var lossClass: Float = 2
    public var focalAlpha: Float = 0.25
}

extension ConditionalDETRConfig: TransformerDetectorConfig {
    public static let family = "conditional-detr"
    public static let summary = "Conditional DETR (Meng et al. 2021): conditional cross-attention around learned reference points, sigmoid focal loss"

    public func makeNetwork(using rng: inout SplitMix64) -> any DetectionNetwork { ConditionalDETR(self, using: &rng) }

    public func makeCriterion() -> SetCriterion {
        var matcher = HungarianMatcher(costClass: self.costClass, costBox: self.costBox, costGIoU: self.costGIoU)
        matcher.focalAlpha = self.focalAlpha
        var c = SetCriterion(numClasses: numClasses, matcher: matcher, weights: LossWeights(ce: self.lossClass, bbox: self.lossBox, giou: self.lossGIoU))
        c.focalAlpha = self.focalAlpha
        return c
    }

    public mutating func apply(_ s: ArchitectureSettings) -> [String] {
        var out: [String] = []
        applySharedSettings(s)
        if s.classLoss == .softmax { out.append("conditional-detr has sigmoid focal classification only") }
        if s.maskHead == true { out.append("conditional-detr has no mask head") }
        if s.maskPoints != nil { out.append("conditional-detr has no masks (mask points are mask2former's)") }
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
        try c.readSharedShapes(s)
        if let p = c.problems().first { throw StateDictError(p) }
        return c
    }
}
