import Base
import NN
import Tensor

/// DETR's encoder layer (keys self_attn, linear1, linear2, norm1, norm2); post-norm by
/// default, pre-norm with `preNorm`. Sequences are [S, B, C]. Public for the benchmarks.
public final class EncoderLayer: Module {
    let selfAttn: MultiheadAttention
    let linear1: Linear, linear2: Linear
    let norm1: LayerNorm, norm2: LayerNorm
    let dropout: Dropout
    let preNorm: Bool

    public init(dModel: Int, heads: Int, feedForward: Int, dropout p: Float, preNorm: Bool, using rng: inout SplitMix64) {
        selfAttn = MultiheadAttention(embedDim: dModel, heads: heads, dropout: p, using: &rng)
        linear1 = Linear(dModel, feedForward, using: &rng)
        linear2 = Linear(feedForward, dModel, using: &rng)
        norm1 = LayerNorm(dModel)
        norm2 = LayerNorm(dModel)
        dropout = Dropout(p)
        self.preNorm = preNorm
    }

    convenience init(_ c: DETRConfig, using rng: inout SplitMix64) {
        self.init(dModel: c.dModel, heads: c.heads, feedForward: c.feedForward, dropout: c.dropout, preNorm: c.preNorm, using: &rng)
    }

    public func callAsFunction(_ src: Tensor, mask: BoolTensor?, pos: Tensor, _ ctx: inout ForwardContext) -> Tensor {
        if preNorm {
            let s2 = norm1(src)
            let q = s2 + pos
            var x = src + dropout(selfAttn(query: q, key: q, value: s2, keyPaddingMask: mask, &ctx).output, &ctx)
            let s3 = norm2(x)
            x = x + dropout(linear2(dropout(linear1(s3).relu(), &ctx)), &ctx)
            return x
        }
        let q = src + pos
        var x = norm1(src + dropout(selfAttn(query: q, key: q, value: src, keyPaddingMask: mask, &ctx).output, &ctx))
        x = norm2(x + dropout(linear2(dropout(linear1(x).relu(), &ctx)), &ctx))
        return x
    }

    public func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
        visitChild(selfAttn, "self_attn", prefix, body)
        visitChild(linear1, "linear1", prefix, body)
        visitChild(linear2, "linear2", prefix, body)
        visitChild(norm1, "norm1", prefix, body)
        visitChild(norm2, "norm2", prefix, body)
    }
}

/// DETR's decoder layer (keys self_attn, multihead_attn, linear1, linear2, norm1...3).
final class DecoderLayer: Module {
    let selfAttn: MultiheadAttention, crossAttn: MultiheadAttention
    let linear1: Linear, linear2: Linear
    let norm1: LayerNorm, norm2: LayerNorm, norm3: LayerNorm
    let dropout: Dropout
    let preNorm: Bool

    init(_ c: DETRConfig, using rng: inout SplitMix64) {
        selfAttn = MultiheadAttention(embedDim: c.dModel, heads: c.heads, dropout: c.dropout, using: &rng)
        crossAttn = MultiheadAttention(embedDim: c.dModel, heads: c.heads, dropout: c.dropout, using: &rng)
        linear1 = Linear(c.dModel, c.feedForward, using: &rng)
        linear2 = Linear(c.feedForward, c.dModel, using: &rng)
        norm1 = LayerNorm(c.dModel)
        norm2 = LayerNorm(c.dModel)
        norm3 = LayerNorm(c.dModel)
        dropout = Dropout(c.dropout)
        preNorm = c.preNorm
    }

    /// Self-attention within each of `groups` query groups (Group DETR), cross-attention shared.
    func callAsFunction(_ tgt: Tensor, memory: Tensor, memoryMask: BoolTensor?, pos: Tensor, queryPos: Tensor, groups: Int,
                        _ ctx: inout ForwardContext) -> Tensor {
        func selfAttention(_ q: Tensor, _ v: Tensor, _ ctx: inout ForwardContext) -> Tensor {
            let fq = foldGroups(q, groups: groups)
            return unfoldGroups(selfAttn(query: fq, key: fq, value: foldGroups(v, groups: groups), groups: groups, &ctx).output, groups: groups)
        }
        if preNorm {
            var t = tgt
            let t2 = norm1(t)
            let q = t2 + queryPos
            t = t + dropout(selfAttention(q, t2, &ctx), &ctx)
            let t3 = norm2(t)
            t = t + dropout(crossAttn(query: t3 + queryPos, key: memory + pos, value: memory, keyPaddingMask: memoryMask, &ctx).output, &ctx)
            let t4 = norm3(t)
            return t + dropout(linear2(dropout(linear1(t4).relu(), &ctx)), &ctx)
        }
        let q = tgt + queryPos
        var t = norm1(tgt + dropout(selfAttention(q, tgt, &ctx), &ctx))
        t = norm2(t + dropout(crossAttn(query: t + queryPos, key: memory + pos, value: memory, keyPaddingMask: memoryMask, &ctx).output, &ctx))
        return norm3(t + dropout(linear2(dropout(linear1(t).relu(), &ctx)), &ctx))
    }

    func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
        visitChild(selfAttn, "self_attn", prefix, body)
        visitChild(crossAttn, "multihead_attn", prefix, body)
        visitChild(linear1, "linear1", prefix, body)
        visitChild(linear2, "linear2", prefix, body)
        visitChild(norm1, "norm1", prefix, body)
        visitChild(norm2, "norm2", prefix, body)
        visitChild(norm3, "norm3", prefix, body)
    }
}

/// DETR's transformer: encoder over the flattened feature map, decoder over the object
/// queries, every decoder layer's output passed through the shared final norm.
public final class Transformer: Module {
    let encoderLayers: [EncoderLayer]
    let decoderLayers: [DecoderLayer]
    /// Only with pre-norm (`encoder.norm`).
    let encoderNorm: LayerNorm?
    let decoderNorm: LayerNorm
    public let config: DETRConfig

    public init(_ c: DETRConfig, using rng: inout SplitMix64) {
        config = c
        encoderLayers = (0..<c.encoderLayers).map { _ in EncoderLayer(c, using: &rng) }
        decoderLayers = (0..<c.decoderLayers).map { _ in DecoderLayer(c, using: &rng) }
        encoderNorm = c.preNorm ? LayerNorm(c.dModel) : nil
        decoderNorm = LayerNorm(c.dModel)
        // DETR's _reset_parameters: xavier_uniform on every parameter with more than one dimension.
        visit(ParameterKey()) { _, t, kind in
            if kind == .parameter && t.rank > 1 { t.assign(Init.xavierUniform(t.shape, using: &rng)) }
        }
    }

    /// src [B, C, h, w], mask [B, h, w] (true = padding), queries [K*Q, C] (K query groups that
    /// do not attend to each other), pos [B, C, h, w].
    /// Returns the decoder outputs of every layer [L, B, K*Q, C] and the memory [h*w, B, C].
    public func callAsFunction(src: Tensor, mask: BoolTensor, queries: Tensor, pos: Tensor, groups: Int = 1,
                               _ ctx: inout ForwardContext) -> (hs: Tensor, memory: Tensor) {
        let b = src.shape[0], c = src.shape[1], hw = src.shape[2] * src.shape[3]
        let s = src.reshape([b, c, hw]).permute([2, 0, 1])          // [HW, B, C]
        let p = pos.reshape([b, c, hw]).permute([2, 0, 1])
        let queryPos = queries.unsqueeze(1).expand([queries.shape[0], b, c])  // [Q, B, C]
        let m = mask.reshaped([b, hw])
        var memory = s
        for layer in encoderLayers { memory = layer(memory, mask: m, pos: p, &ctx) }
        if let encoderNorm { memory = encoderNorm(memory) }
        var out = Tensor.zeros(queryPos.shape)
        var intermediate: [Tensor] = []
        for layer in decoderLayers {
            out = layer(out, memory: memory, memoryMask: m, pos: p, queryPos: queryPos, groups: groups, &ctx)
            intermediate.append(decoderNorm(out))
        }
        let hs = Tensor.stack(intermediate, axis: 0).transpose(1, 2)  // [L, B, Q, C]
        return (hs, memory)
    }

    public func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
        for (i, l) in encoderLayers.enumerated() { visitChild(l, "\(i)", prefix.appending("encoder").appending("layers"), body) }
        visitChild(encoderNorm, "norm", prefix.appending("encoder"), body)
        for (i, l) in decoderLayers.enumerated() { visitChild(l, "\(i)", prefix.appending("decoder").appending("layers"), body) }
        visitChild(decoderNorm, "norm", prefix.appending("decoder"), body)
    }
}
