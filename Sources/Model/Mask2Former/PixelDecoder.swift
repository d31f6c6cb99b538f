import Base
import Foundation
import NN
import Tensor

/// detectron2's `c2_xavier_fill` (Caffe2's XavierFill): weight U(-a, a), a = sqrt(3 / fan_in),
/// bias 0.
func c2XavierFill(_ conv: Conv2d, using rng: inout SplitMix64) {
    let fanIn = conv.weight.shape.dropFirst().reduce(1, *)
    let a = (3 / Float(fanIn)).squareRoot()
    conv.weight.assign(Tensor.uniform(conv.weight.shape, low: -a, high: a, using: &rng))
    conv.bias?.assign(Tensor.zeros(conv.bias!.shape))
}

/// A convolution with an optional GroupNorm(32) after it, under detectron2's keys: the
/// convolution's `weight` (and `bias`), the norm's `norm.weight`, `norm.bias`.
final class ConvGN: Module {
    let conv: Conv2d
    let norm: GroupNorm

    init(_ cin: Int, _ cout: Int, kernel: Int, using rng: inout SplitMix64) {
        conv = Conv2d(cin, cout, kernel: (kernel, kernel), padding: (kernel / 2, kernel / 2), bias: false, using: &rng)
        norm = GroupNorm(groups: 32, channels: cout)
        c2XavierFill(conv, using: &rng)
    }

    func callAsFunction(_ x: Tensor) -> Tensor { norm(conv(x)) }

    func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
        conv.visit(prefix, body)
        visitChild(norm, "norm", prefix, body)
    }
}

/// One layer of the pixel decoder's deformable encoder (post-norm): multi-scale deformable
/// self-attention over all levels, then the feed-forward block. Keys `self_attn`, `norm1`,
/// `linear1`, `linear2`, `norm2`.
final class DeformableEncoderLayer: Module {
    let selfAttn: MSDeformAttn
    let norm1: LayerNorm, norm2: LayerNorm
    let linear1: Linear, linear2: Linear
    let dropout: Float

    init(dModel: Int, feedForward: Int, levels: Int, heads: Int, points: Int, dropout: Float, using rng: inout SplitMix64) {
        linear1 = Linear(dModel, feedForward, using: &rng)
        linear2 = Linear(feedForward, dModel, using: &rng)
        // The official encoder's reset: xavier_uniform for every matrix, then MSDeformAttn's own reset.
        linear1.weight.assign(Init.xavierUniform(linear1.weight.shape, using: &rng))
        linear2.weight.assign(Init.xavierUniform(linear2.weight.shape, using: &rng))
        selfAttn = MSDeformAttn(dModel: dModel, levels: levels, heads: heads, points: points, using: &rng)
        norm1 = LayerNorm(dModel)
        norm2 = LayerNorm(dModel)
        self.dropout = dropout
    }

    /// src, pos [B, S, C]; referencePoints [B, S, L, 2].
    func callAsFunction(_ src: Tensor, pos: Tensor, referencePoints: Tensor, spatialShapes: [(height: Int, width: Int)],
                        levelStartIndex: [Int], _ ctx: inout ForwardContext) -> Tensor {
        let attended = selfAttn(query: src + pos, referencePoints: referencePoints, input: src, spatialShapes: spatialShapes,
                                levelStartIndex: levelStartIndex)
        var x = norm1(src + attended.dropout(dropout, training: ctx.training, sampleAxis: 0, sampleOffset: ctx.sampleOffset, using: &ctx.rng))
        let ffn = linear1(x).relu().dropout(dropout, training: ctx.training, sampleAxis: 0, sampleOffset: ctx.sampleOffset, using: &ctx.rng)
        x = norm2(x + linear2(ffn).dropout(dropout, training: ctx.training, sampleAxis: 0, sampleOffset: ctx.sampleOffset, using: &ctx.rng))
        return x
    }

    func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
        visitChild(selfAttn, "self_attn", prefix, body)
        visitChild(norm1, "norm1", prefix, body)
        visitChild(linear1, "linear1", prefix, body)
        visitChild(linear2, "linear2", prefix, body)
        visitChild(norm2, "norm2", prefix, body)
    }
}

/// Mask2Former's MSDeformAttnPixelDecoder under the official keys (below
/// `sem_seg_head.pixel_decoder`): the 1/32, 1/16 and 1/8 backbone maps projected to `convDim`
/// (`input_proj.i`: 1x1 convolution with bias + GroupNorm 32, i = 0 for 1/32), refined jointly by
/// the deformable encoder (`transformer.level_embed`, `transformer.encoder.layers.i`), then one
/// FPN step to 1/4 (`adapter_1`: lateral 1x1 convolution + GroupNorm of the 1/4 map, plus the
/// bilinearly upsampled 1/8 output; `layer_1`: 3x3 convolution + GroupNorm + ReLU) and the 1x1
/// `mask_features` convolution. The official pixel decoder uses no padding mask (every position
/// counts, the sine encoding runs over the whole padded map), and neither does this one.
public final class MSDeformAttnPixelDecoder: Module {
    public let convDim: Int, maskDim: Int
    /// 3: the maps the encoder refines (and the decoder attends to).
    public let levels = 3
    let inputProj: [(conv: Conv2d, norm: GroupNorm)]
    /// [levels, convDim].
    public let levelEmbed: Tensor
    let layers: [DeformableEncoderLayer]
    let lateral: ConvGN
    let output: ConvGN
    let maskFeatures: Conv2d
    let sine: SinePositionEncoding

    /// `inChannels`: channels of the backbone's res2...res5 maps (strides 4...32).
    public init(inChannels: [Int], _ c: Mask2FormerConfig, using rng: inout SplitMix64) {
        precondition(inChannels.count == 4, "MSDeformAttnPixelDecoder: 4 backbone maps (res2...res5), got \(inChannels.count)")
        precondition(c.problems().isEmpty, "Mask2FormerConfig: " + c.problems().joined(separator: "; "))
        convDim = c.convDim
        maskDim = c.maskDim
        var projections: [(conv: Conv2d, norm: GroupNorm)] = []
        for cin in inChannels[1...].reversed() {
            let conv = Conv2d(cin, c.convDim, kernel: (1, 1), using: &rng)
            conv.weight.assign(Init.xavierUniform(conv.weight.shape, using: &rng))
            conv.bias!.assign(Tensor.zeros([c.convDim]))
            projections.append((conv, GroupNorm(groups: 32, channels: c.convDim)))
        }
        inputProj = projections
        layers = (0..<c.encoderLayers).map { _ in
            DeformableEncoderLayer(dModel: c.convDim, feedForward: c.encoderFeedForward, levels: 3, heads: c.heads, points: c.points,
                                   dropout: c.dropout, using: &rng)
        }
        levelEmbed = Tensor.normal([3, c.convDim], using: &rng, requiresGrad: true)
        lateral = ConvGN(inChannels[0], c.convDim, kernel: 1, using: &rng)
        output = ConvGN(c.convDim, c.convDim, kernel: 3, using: &rng)
        maskFeatures = Conv2d(c.convDim, c.maskDim, kernel: (1, 1), using: &rng)
        c2XavierFill(maskFeatures, using: &rng)
        sine = SinePositionEncoding(numPosFeats: c.convDim / 2)
    }

    /// Reference points of every position of every level [B, S, L, 2]: the cell centres
    /// ((x + 0.5) / w, (y + 0.5) / h) of its own level, the same for each of the L levels (the
    /// official valid ratios are 1: no padding mask).
    static func referencePoints(batch b: Int, shapes: [(height: Int, width: Int)]) -> Tensor {
        let l = shapes.count
        let s = shapes.map { $0.height * $0.width }.reduce(0, +)
        let out = Tensor.empty([b, s, l, 2])
        var i = 0
        for (h, w) in shapes {
            for y in 0..<h {
                for x in 0..<w {
                    let px = (Float(x) + 0.5) / Float(w), py = (Float(y) + 0.5) / Float(h)
                    for n in 0..<b {
                        for lvl in 0..<l {
                            out.data[((n * s + i) * l + lvl) * 2] = px
                            out.data[((n * s + i) * l + lvl) * 2 + 1] = py
                        }
                    }
                    i += 1
                }
            }
        }
        return out
    }

    /// features: the backbone's res2...res5 maps [B, C_i, H/4..32, W/4..32]. Returns the mask
    /// features [B, maskDim, H/4, W/4] and the encoder's maps [B, convDim, h, w] at 1/32, 1/16,
    /// 1/8 (the decoder's levels, in that order).
    public func callAsFunction(_ features: [Tensor], _ ctx: inout ForwardContext) -> (maskFeatures: Tensor, multiScale: [Tensor]) {
        precondition(features.count == 4, "MSDeformAttnPixelDecoder: 4 backbone maps, got \(features.count)")
        let b = features[0].shape[0]
        var flat: [Tensor] = [], pos: [Tensor] = []
        var shapes: [(height: Int, width: Int)] = []
        let embeds = levelEmbed.split([1, 1, 1], axis: 0)
        for (lvl, x) in features[1...].reversed().enumerated() {
            let h = x.shape[2], w = x.shape[3]
            shapes.append((h, w))
            let src = inputProj[lvl].norm(inputProj[lvl].conv(x))  // [B, C, h, w]
            flat.append(src.reshape([b, convDim, h * w]).permute([0, 2, 1]))
            let p = sine(mask: BoolTensor([Bool](repeating: false, count: b * h * w), shape: [b, h, w]))
            pos.append(p.reshape([b, convDim, h * w]).permute([0, 2, 1]) + embeds[lvl].reshape([1, 1, convDim]))
        }
        var starts: [Int] = []
        var total = 0
        for (h, w) in shapes {
            starts.append(total)
            total += h * w
        }
        var src = Tensor.cat(flat, axis: 1)  // [B, S, C]
        let posAll = Tensor.cat(pos, axis: 1)
        let reference = Self.referencePoints(batch: b, shapes: shapes)
        for layer in layers {
            src = layer(src, pos: posAll, referencePoints: reference, spatialShapes: shapes, levelStartIndex: starts, &ctx)
        }
        let pieces = src.split(shapes.map { $0.height * $0.width }, axis: 1)
        let maps = zip(pieces, shapes).map { $0.permute([0, 2, 1]).reshape([b, convDim, $1.height, $1.width]) }
        // One FPN step: the 1/4 map's lateral projection plus the upsampled 1/8 output.
        let fine = lateral(features[0])
        let merged = fine + maps[maps.count - 1].interpolateBilinear(fine.shape[2], fine.shape[3])
        let top = output(merged).relu()
        return (maskFeatures(top), maps)
    }

    public func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
        for (i, p) in inputProj.enumerated() {
            let key = prefix.appending("input_proj").appending(i)
            visitChild(p.conv, "0", key, body)
            visitChild(p.norm, "1", key, body)
        }
        let transformer = prefix.appending("transformer")
        body(transformer.appending("level_embed"), levelEmbed, .parameter)
        for (i, l) in layers.enumerated() { visitChild(l, "\(i)", transformer.appending("encoder").appending("layers"), body) }
        visitChild(lateral, "adapter_1", prefix, body)
        visitChild(output, "layer_1", prefix, body)
        visitChild(maskFeatures, "mask_features", prefix, body)
    }
}
