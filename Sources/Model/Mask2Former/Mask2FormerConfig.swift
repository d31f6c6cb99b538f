import Base
import NN
import Tensor

/// Hyper-parameters of Mask2Former (Cheng et al. 2022) with the official
/// facebookresearch/Mask2Former defaults (its COCO configs with a ResNet backbone).
///
/// A mask-classification family (`MaskClassifierConfig`, registered as `mask2former`): its
/// network predicts class logits and mask logits per query, not boxes; the inference settings
/// below (task, top-k, thresholds, thing classes) travel with its checkpoints.
public struct Mask2FormerConfig: Equatable, Sendable, Codable {
    /// Real classes; the class head has one more output, "no object".
    public var numClasses = 133
    public var backbone: ResNetDepth = .resnet50
    /// detectron2's FrozenBN by default.
    public var backboneNorm: BackboneNorm = .frozen
    /// Width of the pixel decoder (`CONVS_DIM`).
    public var convDim = 256
    /// Channels of the mask features (`MASK_DIM`).
    public var maskDim = 256
    /// Width of the transformer decoder (`HIDDEN_DIM`).
    public var hiddenDim = 256
    /// Attention heads of the pixel decoder's deformable attention and of the decoder (`NHEADS`).
    public var heads = 8
    /// Sampling points per head and level of the deformable attention.
    public var points = 4
    /// Deformable encoder layers of the pixel decoder and their feed-forward width.
    public var encoderLayers = 6
    public var encoderFeedForward = 1024
    /// Masked-attention decoder layers (`DEC_LAYERS` - 1: the official count includes the
    /// prediction from the initial queries) and their feed-forward width.
    public var decoderLayers = 9
    public var feedForward = 2048
    public var numQueries = 100
    /// Dropout of the pixel decoder's encoder and of the decoder (0 in the official configs).
    public var dropout: Float = 0
    /// Points sampled per mask in matching and in the mask losses (`TRAIN_NUM_POINTS`, 112 x 112).
    public var trainPoints = 12544

    /// The task of the checkpoint's results (`predict` draws instances or writes panoptic
    /// segments by it unless told otherwise).
    public var task: SegmentationTask = .instance
    /// Instances kept per image (`TEST.DETECTIONS_PER_IMAGE`).
    public var testTopK = 100
    /// Panoptic: smallest class probability of a kept query, and smallest share of its mask a
    /// segment must keep (`OBJECT_MASK_THRESHOLD`, `OVERLAP_THRESHOLD`).
    public var objectMaskThreshold: Float = 0.8
    public var overlapThreshold: Float = 0.8
    /// Panoptic: the thing classes (class ids); the others are stuff, their segments merged per
    /// class. Absent: every class is a thing.
    public var thingClasses: [Int]?

    public init() {}

    /// Relations the layers rely on; a message each.
    public func problems() -> [String] {
        var out: [String] = []
        if numClasses < 1 { out.append("numClasses (\(numClasses)) must be at least 1") }
        for (name, v) in [("convDim", convDim), ("maskDim", maskDim), ("hiddenDim", hiddenDim), ("heads", heads), ("points", points),
                          ("encoderLayers", encoderLayers), ("encoderFeedForward", encoderFeedForward), ("decoderLayers", decoderLayers),
                          ("feedForward", feedForward), ("numQueries", numQueries), ("trainPoints", trainPoints)] where v < 1 {
            out.append("\(name) (\(v)) must be at least 1")
        }
        if convDim % 32 != 0 { out.append("convDim (\(convDim)) must be a multiple of 32 (GroupNorm of 32 groups)") }
        if heads > 0 && convDim % heads != 0 { out.append("convDim (\(convDim)) must be a multiple of heads (\(heads))") }
        if heads > 0 && hiddenDim % heads != 0 { out.append("hiddenDim (\(hiddenDim)) must be a multiple of heads (\(heads))") }
        if convDim % 2 != 0 || hiddenDim % 2 != 0 { out.append("convDim and hiddenDim must be even (sine position encoding)") }
        if !(dropout >= 0 && dropout < 1) { out.append("dropout (\(dropout)) must be in [0, 1)") }
        if testTopK < 1 { out.append("testTopK (\(testTopK)) must be at least 1") }
        for (name, v) in [("objectMaskThreshold", objectMaskThreshold), ("overlapThreshold", overlapThreshold)] where !(v >= 0 && v <= 1) {
            out.append("\(name) (\(v)) must be in [0, 1]")
        }
        if let bad = thingClasses?.first(where: { $0 < 0 || $0 >= numClasses }) {
            out.append("thing class \(bad) is outside 0..<\(numClasses)")
        }
        return out
    }
}

extension Mask2FormerConfig {
    /// Whether a state dict's keys are Mask2Former's (the official detectron2 names).
    public static func recognises(_ keys: Set<String>) -> Bool {
        keys.contains("sem_seg_head.predictor.query_feat.weight") && keys.contains("sem_seg_head.pixel_decoder.mask_features.weight")
    }

    /// The configuration an official state dict implies, read off its shapes: classes, widths,
    /// queries, layer counts and feed-forward widths, the backbone's depth and norm. Heads and
    /// points share the deformable attention's shapes (heads x 3 levels x points): the points are
    /// taken as the paper's 4. Throws `StateDictError` naming what does not fit.
    public static func inferred(from shapes: [String: [Int]]) throws -> Mask2FormerConfig {
        let s = StateDictShapes(shapes)
        let head = "sem_seg_head.predictor.", pixel = "sem_seg_head.pixel_decoder."
        func matrix(_ key: String) throws -> [Int] {
            let shape = try s.shape(key)
            guard shape.count >= 2, shape[0] >= 1, shape[1] >= 1 else { throw StateDictError("\(key) has shape \(shape)") }
            return shape
        }
        var c = Mask2FormerConfig()
        let cls = try matrix(head + "class_embed.weight")
        guard cls[0] >= 2 else { throw StateDictError("\(head)class_embed.weight has shape \(cls): no real class") }
        c.numClasses = cls[0] - 1
        c.hiddenDim = cls[1]
        c.numQueries = try matrix(head + "query_feat.weight")[0]
        c.decoderLayers = s.count(head + "transformer_ffn_layers")
        c.feedForward = try matrix(head + "transformer_ffn_layers.0.linear1.weight")[0]
        let mask = try matrix(pixel + "mask_features.weight")
        c.maskDim = mask[0]
        c.convDim = mask[1]
        let encoder = pixel + "transformer.encoder.layers"
        c.encoderLayers = s.count(encoder)
        c.encoderFeedForward = try matrix(encoder + ".0.linear1.weight")[0]
        let weights = try matrix(encoder + ".0.self_attn.attention_weights.weight")[0]
        guard weights % (3 * c.points) == 0 else {
            throw StateDictError("\(encoder).0.self_attn.attention_weights.weight has \(weights) rows: not heads x 3 levels x \(c.points) points")
        }
        c.heads = weights / (3 * c.points)
        let bottleneck = s.has("backbone.res2.0.conv3.weight")
        let res4 = s.count("backbone.res4")
        switch (bottleneck, res4) {
        case (false, 2): c.backbone = .resnet18
        case (false, 6): c.backbone = .resnet34
        case (true, 6): c.backbone = .resnet50
        case (true, 23): c.backbone = .resnet101
        default: throw StateDictError("unknown backbone (res4 has \(res4) blocks, bottleneck \(bottleneck))")
        }
        c.backboneNorm = s.backboneNorm
        if let p = c.problems().first { throw StateDictError(p) }
        return c
    }
}
