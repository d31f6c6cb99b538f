import Base
import Foundation
import NN
import Tensor

/// A network of a DETR-family model the tools can run: images in, raw outputs out.
public protocol DetectionNetwork: Module {
    /// images [B, 3, H, W] (normalised, zero-padded), mask [B, H, W] true on padding. In
    /// training mode the output holds every query group; in inference mode group 0 only.
    func callAsFunction(images: Tensor, mask: BoolTensor, _ ctx: inout ForwardContext) -> DETROutput
    /// The ResNet backbone (its own keys are torchvision's; the network's state dict names its
    /// tensors as the family's official code does).
    var resnetBackbone: ResNet { get }
}

/// The configuration of one model family: its hyper-parameters (Codable, the papers'
/// defaults from `init()`), how to build its network and criterion, and how to recognise its
/// state dicts. A family is registered by name in Pipeline's registry; tools never name one.
public protocol DetectorConfig: Codable, Sendable {
    /// The family's name in checkpoints and on the command line (`detr`, `conditional-detr`).
    static var family: String { get }
    /// One line for `--help`.
    static var summary: String { get }
    /// The paper's defaults.
    init()

    /// Real classes.
    var numClasses: Int { get set }
    var backbone: ResNetDepth { get }
    var backboneNorm: BackboneNorm { get set }
    /// Query groups trained at once (Group DETR); inference uses group 0.
    var groups: Int { get }

    /// Relations the layers rely on; a message each.
    func problems() -> [String]
    /// A freshly initialised network.
    func makeNetwork(using rng: inout SplitMix64) -> any DetectionNetwork
    /// The matcher and loss of the family (the terms it names and weights).
    func makeCriterion() -> SetCriterion
    /// What a trainer minimises for this family (default: `makeCriterion()`, DETR's set
    /// criterion with its mask terms when the outputs carry masks).
    func makeTrainingCriterion() -> any TrainingCriterion
    /// Applies the architecture flags a tool was given; returns a message for each setting
    /// the family does not have.
    mutating func apply(_ settings: ArchitectureSettings) -> [String]

    /// Whether a state dict's keys are this family's.
    static func recognises(_ keys: Set<String>) -> Bool
    /// The configuration a state dict implies (classes, widths, depths from the shapes);
    /// `numClasses` when known resolves what shapes leave open. Throws `StateDictError`.
    static func inferred(from shapes: [String: [Int]], numClasses: Int?) throws -> Self
}

extension DetectorConfig {
    public func makeTrainingCriterion() -> any TrainingCriterion { makeCriterion() }
}

/// The loss a trainer minimises, for any family: outputs and targets in, the weighted total
/// (to differentiate) and the named weighted terms of the last prediction (to log) out.
/// Targets carry boxes (normalised cxcywh) and, when the data has them, masks [n, H, W] at the
/// padded batch's size (zero in the padding).
public protocol TrainingCriterion: Sendable {
    /// `seed`: what a criterion that samples (Mask2Former's points) draws from; the same seed
    /// gives the same loss.
    func trainingLosses(_ output: DETROutput, _ targets: [DETRTarget], seed: UInt64) throws -> (total: Tensor, terms: [LossTerm])
    /// Data-parallel training: sums a vector over the processes (see `SetCriterion.globalSum`).
    var globalSum: (@Sendable (inout [Double]) -> Void)? { get set }
}

extension SetCriterion: TrainingCriterion {
    public func trainingLosses(_ output: DETROutput, _ targets: [DETRTarget], seed: UInt64) throws -> (total: Tensor, terms: [LossTerm]) {
        let l = try losses(output, targets)
        return (l.total, l.terms)
    }
}

/// The tasks a mask-classification family's inference serves.
public enum SegmentationTask: String, Codable, Sendable, CaseIterable {
    /// Instances: the best (query, class) pairs, each a class, a score and a mask.
    case instance
    /// Panoptic segments: every pixel at most one segment; a stuff class's segments merged.
    case panoptic
    /// Semantic segmentation: per pixel the class of highest score (classes are regions, not instances).
    case semantic
}

/// A family whose network classifies masks (Mask2Former) instead of predicting boxes. Its
/// network's `DETROutput` holds `logits` [B, Q, C+1] ("no object" last), the mask logits as
/// `masks` [B, Q, h, w] (a fraction of the input's size) and, as `boxes`, the extents of the
/// masks (logit > 0; zeros for an empty mask); the network reads no padding mask. Its results
/// come from its own inference on one image's class logits [Q, C+1] and mask logits [Q, H, W]
/// already at the image's size, not from DETR's box post-processing. Tools ask for the
/// capability, never for the family.
public protocol MaskClassifierConfig: DetectorConfig {
    /// The task the checkpoint's results default to.
    var task: SegmentationTask { get }
    /// The instances of one image, best first.
    func instances(classLogits: Tensor, masks: Tensor) -> [MaskInstance]
    /// The panoptic segmentation of one image (segment ids from 1; categories are class ids).
    func panoptic(classLogits: Tensor, masks: Tensor) -> PanopticPrediction
    /// Whether a class is a thing (countable) rather than stuff in the panoptic task.
    func isThing(_ label: Int) -> Bool
}

/// One instance of a mask-classification model: its class, score and binary mask (row-major).
public struct MaskInstance: Equatable, Sendable {
    public var label: Int
    public var score: Float
    public var mask: [Bool]

    public init(label: Int, score: Float, mask: [Bool]) {
        self.label = label
        self.score = score
        self.mask = mask
    }
}

/// Architecture settings given on a command line, each optional: a family keeps its own
/// default for what is not set.
public struct ArchitectureSettings: Codable, Equatable, Sendable {
    public var backbone: ResNetDepth?
    /// Backbone stages (3: stride-16 features from layer3, 4: all, stride 32).
    public var backboneStages: Int?
    public var queries: Int?
    public var dModel: Int?
    public var heads: Int?
    public var encoderLayers: Int?
    public var decoderLayers: Int?
    public var feedForward: Int?
    public var dropout: Float?
    public var auxLoss: Bool?
    public var groups: Int?
    /// Class scoring and loss: softmax cross-entropy with "no object", or sigmoid focal.
    public var classLoss: ClassScoring?
    public var maskHead: Bool?
    /// Points sampled per mask in a mask classifier's matching and mask losses.
    public var maskPoints: Int?

    public init() {}
}

/// A state dict that does not fit a family.
public struct StateDictError: Error, CustomStringConvertible, Sendable {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// Reading architecture facts off a state dict's shapes (shared by the families).
public struct StateDictShapes {
    public let shapes: [String: [Int]]
    public let prefix: String

    public init(_ shapes: [String: [Int]], prefix: String = "") {
        self.shapes = shapes
        self.prefix = prefix
    }

    public func shape(_ key: String) throws -> [Int] {
        guard let s = shapes[prefix + key] else { throw StateDictError("no \(prefix + key)") }
        return s
    }

    public func has(_ key: String) -> Bool { shapes[prefix + key] != nil }

    /// Number of consecutive children `stem.0.`, `stem.1.`, ...
    public func count(_ stem: String) -> Int {
        var n = 0
        while shapes.keys.contains(where: { $0.hasPrefix("\(prefix)\(stem).\(n).") }) { n += 1 }
        return n
    }

    /// Backbone depth and stage count (`backbone.0.body.*`).
    public func backbone() throws -> (depth: ResNetDepth, stages: Int) {
        let bottleneck = has("backbone.0.body.layer1.0.conv3.weight")
        let layer3 = count("backbone.0.body.layer3")
        let stages = count("backbone.0.body.layer4") > 0 ? 4 : 3
        switch (bottleneck, layer3) {
        case (false, 2): return (.resnet18, stages)
        case (false, 6): return (.resnet34, stages)
        case (true, 6): return (.resnet50, stages)
        case (true, 23): return (.resnet101, stages)
        default: throw StateDictError("unknown backbone (layer3 has \(layer3) blocks, bottleneck \(bottleneck))")
        }
    }

    /// Pretrained official weights use frozen batch norm (no `num_batches_tracked`).
    public var backboneNorm: BackboneNorm {
        shapes.keys.contains { $0.hasSuffix("num_batches_tracked") } ? .trainable : .frozen
    }
}

// MARK: - Pieces the families share

extension DETROutput {
    /// The last decoder layer's prediction, with the earlier layers' as `aux` when `auxLoss`,
    /// from every layer's logits [L, B, Q, C] and boxes [L, B, Q, 4].
    static func fromLayers(logits: Tensor, boxes: Tensor, auxLoss: Bool, scoring: ClassScoring, groups: Int) -> DETROutput {
        let layers = logits.shape[0]
        func layer(_ t: Tensor, _ i: Int) -> Tensor { t.slice(axis: 0, i..<(i + 1)).squeeze(0) }
        let aux = auxLoss ? (0..<(layers - 1)).map {
            DETROutput(logits: layer(logits, $0), boxes: layer(boxes, $0), scoring: scoring, groups: groups)
        } : []
        return DETROutput(logits: layer(logits, layers - 1), boxes: layer(boxes, layers - 1), aux: aux, scoring: scoring, groups: groups)
    }
}

/// Group DETR's self-attention within groups: [K*Q, B, C] -> [Q, K*B, C] (group g's queries
/// become batch entries g*B ..< (g+1)*B), so that attention never crosses groups.
func foldGroups(_ x: Tensor, groups k: Int) -> Tensor {
    if k == 1 { return x }
    let q = x.shape[0] / k, b = x.shape[1], c = x.shape[2]
    return x.reshape([k, q, b, c]).permute([1, 0, 2, 3]).reshape([q, k * b, c])
}

/// The inverse of `foldGroups`: [Q, K*B, C] -> [K*Q, B, C].
func unfoldGroups(_ x: Tensor, groups k: Int) -> Tensor {
    if k == 1 { return x }
    let q = x.shape[0], b = x.shape[1] / k, c = x.shape[2]
    return x.reshape([q, k, b, c]).permute([1, 0, 2, 3]).reshape([k * q, b, c])
}

/// The sine embedding of normalised points (Conditional DETR's `gen_sineembed_for_position`):
/// points [..., 2] as (x, y) in [0, 1] -> [..., 2F]; each coordinate times 2 pi divided by
/// 10000^(2 floor(i/2) / F), sin at even and cos at odd i, the y block first. F = dModel / 2
/// (the official code's fixed 128 at dModel 256). Differentiable in the points.
func sinePointEmbedding(_ points: Tensor, features f: Int) -> Tensor {
    let lead = Array(points.shape.dropLast())
    let dimT = (0..<f).map { Float(Foundation.pow(10000.0, 2 * Double($0 / 2) / Double(f))) }
    var inverse = [Float](repeating: 0, count: f)
    for i in 0..<f { inverse[i] = 2 * Float.pi / dimT[i] }
    let freq = Tensor(inverse, shape: [f])
    let parity = Tensor((0..<f).map { $0 % 2 == 0 ? 1 : 0 }, shape: [f])
    func embed(_ coord: Tensor) -> Tensor {
        let angles = coord * freq                                   // [..., F]
        return angles.sin() * parity + angles.cos() * (1 - parity)
    }
    let x = points.slice(axis: -1, 0..<1), y = points.slice(axis: -1, 1..<2)
    let out = Tensor.cat([embed(y), embed(x)], axis: points.rank - 1)
    precondition(out.shape == lead + [2 * f])
    return out
}

/// log(x / (1 - x)) with x clamped to [0, 1] and both parts to at least `eps` (the official
/// `inverse_sigmoid`).
func inverseSigmoid(_ x: Tensor, eps: Float = 1e-5) -> Tensor {
    let c = x.clamp(min: 0, max: 1)
    return (c.clamp(min: eps) / (1 - c).clamp(min: eps)).log()
}
