import Base
import NN
import Tensor

/// Hyper-parameters of Mask2Former (Cheng et al. 2022) with the official
/// facebookresearch/Mask2Former defaults (its COCO configs with a ResNet backbone).
///
/// Mask2Former is a library model: its network predicts class logits and mask logits per
/// query, not boxes, so it is not a `DetectorConfig` family (and the tools do not offer it).
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

    public init() {}

    /// Relations the layers rely on; a message each.
    public func problems() -> [String] {
        var out: [String] = []
        if numClasses < 1 { out.append("numClasses (\(numClasses)) must be at least 1") }
        for (name, v) in [("convDim", convDim), ("maskDim", maskDim), ("hiddenDim", hiddenDim), ("heads", heads), ("points", points),
                          ("encoderLayers", encoderLayers), ("encoderFeedForward", encoderFeedForward), ("decoderLayers", decoderLayers),
                          ("feedForward", feedForward), ("numQueries", numQueries)] where v < 1 {
            out.append("\(name) (\(v)) must be at least 1")
        }
        if convDim % 32 != 0 { out.append("convDim (\(convDim)) must be a multiple of 32 (GroupNorm of 32 groups)") }
        if heads > 0 && convDim % heads != 0 { out.append("convDim (\(convDim)) must be a multiple of heads (\(heads))") }
        if heads > 0 && hiddenDim % heads != 0 { out.append("hiddenDim (\(hiddenDim)) must be a multiple of heads (\(heads))") }
        if convDim % 2 != 0 || hiddenDim % 2 != 0 { out.append("convDim and hiddenDim must be even (sine position encoding)") }
        if !(dropout >= 0 && dropout < 1) { out.append("dropout (\(dropout)) must be in [0, 1)") }
        return out
    }
}
