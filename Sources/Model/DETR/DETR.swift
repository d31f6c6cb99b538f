import Base
import Foundation
import NN
import Tensor

/// DETR (Carion et al. 2020), with the official repository's state-dict keys:
/// `backbone.0.body.*` (ResNet), `backbone.1.*` (learned position encoding, if any),
/// `transformer.*`, `input_proj`, `query_embed`, `class_embed`, `bbox_embed.layers.*`.
public final class DETR: Module {
    public let config: DETRConfig
    public let backbone: ResNet
    public let transformer: Transformer
    let sine: SinePositionEncoding?
    let learned: LearnedPositionEncoding?
    public let heads: QueryHeads

    public init(_ config: DETRConfig, using rng: inout SplitMix64) {
        precondition(config.problems().isEmpty, "DETRConfig: " + config.problems().joined(separator: "; "))
        self.config = config
        backbone = ResNet(config.shared, using: &rng)
        transformer = Transformer(config, using: &rng)
        switch config.positionEncoding {
        case .sine:
            sine = SinePositionEncoding(numPosFeats: config.dModel / 2)
            learned = nil
        case .learned:
            sine = nil
            learned = LearnedPositionEncoding(numPosFeats: config.dModel / 2, using: &rng)
        }
        let sigmoid = config.classLoss == .sigmoid
        heads = QueryHeads(config.shared, backboneChannels: backbone.outputChannels, classOutputs: config.numClasses + (sigmoid ? 0 : 1),
                           focal: sigmoid, using: &rng)
    }

    /// The position encoding of a feature map with padding mask [B, h, w].
    func positionEncoding(_ mask: BoolTensor) -> Tensor {
        if let sine { return sine(mask: mask) }
        return learned!(batch: mask.shape[0], height: mask.shape[1], width: mask.shape[2])
    }

    /// Everything a forward pass computes, for the heads built on top of DETR.
    public struct Intermediate {
        public var output: DETROutput
        /// Decoder outputs of every layer [L, B, Q, C].
        public var hs: Tensor
        /// Encoder output as a feature map [B, C, h, w].
        public var memory: Tensor
        /// input_proj of the last backbone stage [B, C, h, w].
        public var projected: Tensor
        /// Backbone stages (layer1... when `allStages`, else the last stage only).
        public var features: [Tensor]
        /// Padding mask at the last stage's resolution [B, h, w].
        public var featureMask: BoolTensor
        /// Padding masks of every returned stage (nearest-downsampled), in `features` order.
        public var featureMasks: [BoolTensor]
    }

    /// The forward pass with its intermediate results.
    public func forwardIntermediate(images: Tensor, mask: BoolTensor, allStages: Bool, _ ctx: inout ForwardContext) -> Intermediate {
        precondition(images.rank == 4 && images.shape[1] == 3 && mask.shape == [images.shape[0], images.shape[2], images.shape[3]],
                     "DETR: images \(images.shape) with mask \(mask.shape)")
        let features = backbone(images, returnAll: allStages, &ctx)
        let feature = features[features.count - 1]
        let b = feature.shape[0], h = feature.shape[2], w = feature.shape[3]
        let featureMasks = features.map { downsampleMask(mask, to: $0.shape[2], $0.shape[3]) }
        let featureMask = featureMasks[featureMasks.count - 1]
        let pos = positionEncoding(featureMask)
        let projected = heads.inputProj(feature)
        // Training runs every query group; inference group 0 only (the first Q rows).
        let (queries, groups) = heads.activeQueries(perGroup: config.numQueries, groups: config.groups, training: ctx.training)
        let (hs, memory) = transformer(src: projected, mask: featureMask, queries: queries, pos: pos, groups: groups, &ctx)
        let logits = heads.classEmbed(hs)            // [L, B, Q, C+1]
        let boxes = heads.bboxEmbed(hs).sigmoid()    // [L, B, Q, 4]
        let output = DETROutput.fromLayers(logits: logits, boxes: boxes, auxLoss: config.auxLoss, scoring: config.classLoss, groups: groups)
        let memoryMap = memory.permute([1, 2, 0]).reshape([b, config.dModel, h, w])
        return Intermediate(output: output, hs: hs, memory: memoryMap, projected: projected, features: features,
                            featureMask: featureMask, featureMasks: featureMasks)
    }

    /// images [B, 3, H, W] (normalised, zero-padded), mask [B, H, W] true on padding.
    public func callAsFunction(images: Tensor, mask: BoolTensor, _ ctx: inout ForwardContext) -> DETROutput {
        forwardIntermediate(images: images, mask: mask, allStages: false, &ctx).output
    }

    public func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
        visitChild(transformer, "transformer", prefix, body)
        heads.visit(prefix, body)
        visitChild(backbone, "body", prefix.appending("backbone").appending("0"), body)
        visitChild(learned, "1", prefix.appending("backbone"), body)
    }
}

/// The heads' initialisation of the sigmoid focal recipe (Deformable / Conditional DETR): the
/// class bias at the prior -log((1 - 0.01) / 0.01), so that every class starts at probability
/// 0.01, and the last box layer at zero (boxes start at the reference or at the centre).
func focalHeadInit(classEmbed: Linear, bboxEmbed: MLP) {
    let prior: Float = 0.01
    let bias = -Float(Foundation.log(Double((1 - prior) / prior)))
    classEmbed.bias?.assign(Tensor.full(classEmbed.bias!.shape, bias))
    let last = bboxEmbed.layers[bboxEmbed.layers.count - 1]
    last.weight.assign(Tensor.zeros(last.weight.shape))
    last.bias?.assign(Tensor.zeros(last.bias!.shape))
}

extension DETR: DetectionNetwork {
    public var resnetBackbone: ResNet { backbone }
}

extension DETRSegmentation: DetectionNetwork {
    public var resnetBackbone: ResNet { detr.backbone }
}
