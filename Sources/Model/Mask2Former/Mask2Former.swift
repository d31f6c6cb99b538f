import Base
import Foundation
import NN
import Tensor

/// What a Mask2Former forward pass gives: every prediction of the decoder (after the query
/// init and after each layer; the last is the model's output) and the pixel decoder's maps.
public struct Mask2FormerOutput {
    public var predictions: [Mask2FormerPrediction]
    /// [B, maskDim, H/4, W/4].
    public var maskFeatures: Tensor
    /// The pixel decoder's encoder maps at 1/32, 1/16, 1/8 [B, convDim, h, w].
    public var multiScaleFeatures: [Tensor]

    /// The last layer's prediction.
    public var last: Mask2FormerPrediction { predictions[predictions.count - 1] }
}

/// Mask2Former (Cheng et al. 2022) with a ResNet backbone, under the official
/// facebookresearch/Mask2Former (detectron2) state-dict keys: `backbone.*` (detectron2's ResNet
/// names: `stem.conv1`, `res2`...`res5`, `convK.norm`, `shortcut`), `sem_seg_head.pixel_decoder.*`
/// (MSDeformAttnPixelDecoder) and `sem_seg_head.predictor.*` (MultiScaleMaskedTransformerDecoder).
///
/// The network of the `mask2former` family (`Mask2FormerFamily.swift` gives it to the tools as
/// a `DetectionNetwork`); its losses are `Mask2FormerCriterion`, its inference
/// `Mask2FormerInference`.
public final class Mask2Former: Module {
    public let config: Mask2FormerConfig
    public let backbone: ResNet
    public let pixelDecoder: MSDeformAttnPixelDecoder
    public let predictor: MultiScaleMaskedTransformerDecoder

    public init(_ config: Mask2FormerConfig, using rng: inout SplitMix64) {
        precondition(config.problems().isEmpty, "Mask2FormerConfig: " + config.problems().joined(separator: "; "))
        self.config = config
        backbone = ResNet(depth: config.backbone, norm: config.backboneNorm, using: &rng)
        pixelDecoder = MSDeformAttnPixelDecoder(inChannels: config.backbone.stageChannels, config, using: &rng)
        predictor = MultiScaleMaskedTransformerDecoder(inChannels: config.convDim, config, using: &rng)
    }

    /// images [B, 3, H, W] (normalised; Mask2Former uses no padding mask: padding is image).
    public func callAsFunction(images: Tensor, _ ctx: inout ForwardContext) -> Mask2FormerOutput {
        precondition(images.rank == 4 && images.shape[1] == 3, "Mask2Former: images \(images.shape)")
        let features = backbone(images, returnAll: true, &ctx)
        let (maskFeatures, multiScale) = pixelDecoder(features, &ctx)
        let predictions = predictor(multiScale, maskFeatures: maskFeatures, &ctx)
        return Mask2FormerOutput(predictions: predictions, maskFeatures: maskFeatures, multiScaleFeatures: multiScale)
    }

    /// A torchvision ResNet key of our backbone (`layer1.0.bn1.weight`) under detectron2's name
    /// (`res2.0.conv1.norm.weight`): conv1/bn1 are `stem.conv1` and its `norm`, layerN is
    /// res(N+1), bnK the norm of convK, downsample.0/.1 the `shortcut` and its `norm`.
    static func detectron2Key(_ key: ParameterKey) -> [String] {
        var c = key.components
        guard let first = c.first else { return c }
        if first == "conv1" { return ["stem", "conv1"] + c.dropFirst() }
        if first == "bn1" { return ["stem", "conv1", "norm"] + c.dropFirst() }
        if first.hasPrefix("layer"), let n = Int(first.dropFirst(5)), c.count >= 3 {
            c[0] = "res\(n + 1)"
            var rest = Array(c[2...])
            if rest[0].hasPrefix("bn") {
                rest = ["conv" + rest[0].dropFirst(2), "norm"] + rest.dropFirst()
            } else if rest[0] == "downsample", rest.count >= 2 {
                rest = (rest[1] == "0" ? ["shortcut"] : ["shortcut", "norm"]) + rest.dropFirst(2)
            }
            return Array(c[0...1]) + rest
        }
        return c
    }

    public func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
        let root = prefix.appending("backbone")
        backbone.visit(ParameterKey()) { key, tensor, kind in
            body(ParameterKey(root.components + Self.detectron2Key(key)), tensor, kind)
        }
        visitChild(pixelDecoder, "pixel_decoder", prefix.appending("sem_seg_head"), body)
        visitChild(predictor, "predictor", prefix.appending("sem_seg_head"), body)
    }
}
