import Base
import Foundation
import NN
import Tensor

/// One of the decoder's post-norm attention blocks: `x = norm(x + attention(...))`. Keys
/// `<name>.*` of nn.MultiheadAttention (`self_attn` or `multihead_attn`) and `norm`.
final class AttentionBlock: Module {
    let attention: MultiheadAttention
    let norm: LayerNorm
    let name: String

    init(dModel: Int, heads: Int, dropout: Float, name: String, using rng: inout SplitMix64) {
        attention = MultiheadAttention(embedDim: dModel, heads: heads, dropout: dropout, using: &rng)
        norm = LayerNorm(dModel)
        self.name = name
    }

    /// x, queryPos [Q, B, C]; memory, pos [S, B, C]; attentionMask [B*heads, Q, S] (added to the scores).
    func callAsFunction(_ x: Tensor, queryPos: Tensor, memory: Tensor, pos: Tensor, attentionMask: Tensor?,
                        dropout: Float, _ ctx: inout ForwardContext) -> Tensor {
        let (out, _) = attention(query: x + queryPos, key: memory + pos, value: memory, attentionMask: attentionMask, &ctx)
        return norm(x + out.dropout(dropout, training: ctx.training, sampleAxis: 1, sampleOffset: ctx.sampleOffset, using: &ctx.rng))
    }

    func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
        visitChild(attention, name, prefix, body)
        visitChild(norm, "norm", prefix, body)
    }
}

/// The decoder's post-norm feed-forward block (keys `linear1`, `linear2`, `norm`).
final class FeedForwardBlock: Module {
    let linear1: Linear, linear2: Linear
    let norm: LayerNorm

    init(dModel: Int, feedForward: Int, using rng: inout SplitMix64) {
        linear1 = Linear(dModel, feedForward, using: &rng)
        linear2 = Linear(feedForward, dModel, using: &rng)
        linear1.weight.assign(Init.xavierUniform(linear1.weight.shape, using: &rng))
        linear2.weight.assign(Init.xavierUniform(linear2.weight.shape, using: &rng))
        norm = LayerNorm(dModel)
    }

    func callAsFunction(_ x: Tensor, dropout: Float, _ ctx: inout ForwardContext) -> Tensor {
        let h = linear1(x).relu().dropout(dropout, training: ctx.training, sampleAxis: 1, sampleOffset: ctx.sampleOffset, using: &ctx.rng)
        return norm(x + linear2(h).dropout(dropout, training: ctx.training, sampleAxis: 1, sampleOffset: ctx.sampleOffset, using: &ctx.rng))
    }

    func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
        visitChild(linear1, "linear1", prefix, body)
        visitChild(linear2, "linear2", prefix, body)
        visitChild(norm, "norm", prefix, body)
    }
}

/// One prediction of the decoder: class logits [B, Q, C+1] (the last column "no object") and
/// mask logits [B, Q, H/4, W/4].
public struct Mask2FormerPrediction {
    public var classLogits: Tensor
    public var maskLogits: Tensor

    public init(classLogits: Tensor, maskLogits: Tensor) {
        self.classLogits = classLogits
        self.maskLogits = maskLogits
    }
}

/// Mask2Former's MultiScaleMaskedTransformerDecoder under the official keys (below
/// `sem_seg_head.predictor`): learned queries (`query_feat`) and their positions
/// (`query_embed`); per layer i, masked cross-attention to level i mod 3 of the pixel decoder
/// (`transformer_cross_attention_layers.i`), self-attention (`transformer_self_attention_layers.i`)
/// and the FFN (`transformer_ffn_layers.i`), all post-norm; `level_embed` added to each level's
/// map; the prediction heads on `decoder_norm` of the queries (`class_embed`; `mask_embed`, an MLP
/// of 3 layers, dotted with the mask features), applied after the query init and after every
/// layer. Each prediction's masks, bilinearly resized to the next layer's level, give its
/// attention mask: a query attends only where sigmoid >= 0.5, everywhere when that leaves
/// nothing. `input_proj.i` (1x1 convolutions) exists only when the pixel decoder's width
/// differs from the decoder's.
public final class MultiScaleMaskedTransformerDecoder: Module {
    public let hiddenDim: Int, heads: Int, numQueries: Int, levels = 3
    let dropout: Float
    let inputProj: [Conv2d]?
    let crossAttention: [AttentionBlock]
    let selfAttention: [AttentionBlock]
    let ffn: [FeedForwardBlock]
    public let decoderNorm: LayerNorm
    public let queryFeat: Embedding, queryEmbed: Embedding, levelEmbed: Embedding
    public let classEmbed: Linear
    public let maskEmbed: MLP
    let sine: SinePositionEncoding

    public init(inChannels: Int, _ c: Mask2FormerConfig, using rng: inout SplitMix64) {
        precondition(c.problems().isEmpty, "Mask2FormerConfig: " + c.problems().joined(separator: "; "))
        hiddenDim = c.hiddenDim
        heads = c.heads
        numQueries = c.numQueries
        dropout = c.dropout
        sine = SinePositionEncoding(numPosFeats: c.hiddenDim / 2)
        crossAttention = (0..<c.decoderLayers).map { _ in
            let block = AttentionBlock(dModel: c.hiddenDim, heads: c.heads, dropout: c.dropout, name: "multihead_attn", using: &rng)
            block.attention.outProj.weight.assign(Init.xavierUniform([c.hiddenDim, c.hiddenDim], using: &rng))
            return block
        }
        selfAttention = (0..<c.decoderLayers).map { _ in
            let block = AttentionBlock(dModel: c.hiddenDim, heads: c.heads, dropout: c.dropout, name: "self_attn", using: &rng)
            block.attention.outProj.weight.assign(Init.xavierUniform([c.hiddenDim, c.hiddenDim], using: &rng))
            return block
        }
        ffn = (0..<c.decoderLayers).map { _ in FeedForwardBlock(dModel: c.hiddenDim, feedForward: c.feedForward, using: &rng) }
        decoderNorm = LayerNorm(c.hiddenDim)
        queryFeat = Embedding(c.numQueries, c.hiddenDim, using: &rng)
        queryEmbed = Embedding(c.numQueries, c.hiddenDim, using: &rng)
        levelEmbed = Embedding(3, c.hiddenDim, using: &rng)
        if inChannels != c.hiddenDim {
            inputProj = (0..<3).map { _ in
                let conv = Conv2d(inChannels, c.hiddenDim, kernel: (1, 1), using: &rng)
                c2XavierFill(conv, using: &rng)
                return conv
            }
        } else {
            inputProj = nil
        }
        classEmbed = Linear(c.hiddenDim, c.numClasses + 1, using: &rng)
        maskEmbed = MLP(input: c.hiddenDim, hidden: c.hiddenDim, output: c.maskDim, layers: 3, using: &rng)
    }

    /// The heads on queries x [Q, B, C]: the prediction, and the attention mask it gives a
    /// layer attending to a map of `target` size ([B*heads, Q, h*w], -inf where masked, 0 else).
    func predict(_ x: Tensor, maskFeatures: Tensor, target: (height: Int, width: Int)) -> (Mask2FormerPrediction, Tensor) {
        let q = x.shape[0], b = x.shape[1]
        let normed = decoderNorm(x).transpose(0, 1)  // [B, Q, C]
        let logits = classEmbed(normed)
        let m = maskFeatures.shape[1], h4 = maskFeatures.shape[2], w4 = maskFeatures.shape[3]
        let masks = maskEmbed(normed).matmul(maskFeatures.reshape([b, m, h4 * w4])).reshape([b, q, h4, w4])
        let resized = masks.detach().interpolateBilinear(target.height, target.width)
        let s = target.height * target.width
        let attn = Tensor.zeros([b * heads, q, s])
        var row = [Float](repeating: 0, count: s)
        for n in 0..<b {
            for j in 0..<q {
                let src = resized.data + (n * q + j) * s
                var masked = 0
                for i in 0..<s {
                    // sigmoid(v) < 0.5 exactly when v < 0; sigmoid as PyTorch rounds it in float.
                    let blocked = 1 / (1 + Foundation.exp(-src[i])) < 0.5
                    row[i] = blocked ? -Float.infinity : 0
                    if blocked { masked += 1 }
                }
                if masked == s { continue }  // masked everywhere: attends everywhere
                for hd in 0..<heads {
                    let dst = attn.data + ((n * heads + hd) * q + j) * s
                    for i in 0..<s { dst[i] = row[i] }
                }
            }
        }
        return (Mask2FormerPrediction(classLogits: logits, maskLogits: masks), attn)
    }

    /// multiScale: the pixel decoder's maps [B, C, h, w] at 1/32, 1/16, 1/8; maskFeatures
    /// [B, maskDim, H/4, W/4]. Returns decoderLayers + 1 predictions (the query init's first).
    public func callAsFunction(_ multiScale: [Tensor], maskFeatures: Tensor, _ ctx: inout ForwardContext) -> [Mask2FormerPrediction] {
        precondition(multiScale.count == 3, "MultiScaleMaskedTransformerDecoder: 3 maps, got \(multiScale.count)")
        let b = maskFeatures.shape[0]
        var src: [Tensor] = [], pos: [Tensor] = [], sizes: [(height: Int, width: Int)] = []
        let embeds = levelEmbed.weight.split([1, 1, 1], axis: 0)
        for (i, x) in multiScale.enumerated() {
            let h = x.shape[2], w = x.shape[3]
            sizes.append((h, w))
            let p = sine(mask: BoolTensor([Bool](repeating: false, count: b * h * w), shape: [b, h, w]))
            pos.append(p.reshape([b, hiddenDim, h * w]).permute([2, 0, 1]))  // [hw, B, C]
            let projected = inputProj.map { $0[i](x) } ?? x
            let flat = projected.reshape([b, hiddenDim, h * w]) + embeds[i].reshape([1, hiddenDim, 1])
            src.append(flat.permute([2, 0, 1]))
        }
        let queryPos = queryEmbed.weight.unsqueeze(1).expand([numQueries, b, hiddenDim])
        var x = queryFeat.weight.unsqueeze(1).expand([numQueries, b, hiddenDim])
        var (prediction, attnMask) = predict(x, maskFeatures: maskFeatures, target: sizes[0])
        var predictions = [prediction]
        for i in 0..<crossAttention.count {
            let level = i % levels
            x = crossAttention[i](x, queryPos: queryPos, memory: src[level], pos: pos[level], attentionMask: attnMask, dropout: dropout, &ctx)
            x = selfAttention[i](x, queryPos: queryPos, memory: x, pos: queryPos, attentionMask: nil, dropout: dropout, &ctx)
            x = ffn[i](x, dropout: dropout, &ctx)
            (prediction, attnMask) = predict(x, maskFeatures: maskFeatures, target: sizes[(i + 1) % levels])
            predictions.append(prediction)
        }
        return predictions
    }

    public func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
        for (i, l) in selfAttention.enumerated() { visitChild(l, "\(i)", prefix.appending("transformer_self_attention_layers"), body) }
        for (i, l) in crossAttention.enumerated() { visitChild(l, "\(i)", prefix.appending("transformer_cross_attention_layers"), body) }
        for (i, l) in ffn.enumerated() { visitChild(l, "\(i)", prefix.appending("transformer_ffn_layers"), body) }
        visitChild(decoderNorm, "decoder_norm", prefix, body)
        visitChild(queryFeat, "query_feat", prefix, body)
        visitChild(queryEmbed, "query_embed", prefix, body)
        visitChild(levelEmbed, "level_embed", prefix, body)
        if let inputProj { for (i, c) in inputProj.enumerated() { visitChild(c, "\(i)", prefix.appending("input_proj"), body) } }
        visitChild(classEmbed, "class_embed", prefix, body)
        visitChild(maskEmbed, "mask_embed", prefix, body)
    }
}
