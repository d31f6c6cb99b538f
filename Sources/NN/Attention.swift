import Base
import Tensor

/// PyTorch's nn.MultiheadAttention (sequence-first layout, as DETR uses it).
///
/// Keys: `in_proj_weight` [3E, E] and `in_proj_bias` [3E] when key and value have the model
/// width; otherwise `q_proj_weight` [E, E], `k_proj_weight` [E, kdim], `v_proj_weight` [E, vdim]
/// with `in_proj_bias`; then `out_proj.weight` [E, E] and `out_proj.bias` [E].
public final class MultiheadAttention: Module {
    public let embedDim: Int, heads: Int, kdim: Int, vdim: Int
    public let dropout: Float
    public let inProjWeight: Tensor?
    public let qProjWeight: Tensor?, kProjWeight: Tensor?, vProjWeight: Tensor?
    public let inProjBias: Tensor
    public let outProj: Linear

    public init(embedDim: Int, heads: Int, dropout: Float = 0, kdim: Int? = nil, vdim: Int? = nil, using rng: inout SplitMix64) {
        precondition(embedDim % heads == 0, "MultiheadAttention: embedDim \(embedDim) is not a multiple of heads \(heads)")
        self.embedDim = embedDim
        self.heads = heads
        self.kdim = kdim ?? embedDim
        self.vdim = vdim ?? embedDim
        self.dropout = dropout
        if self.kdim == embedDim && self.vdim == embedDim {
            inProjWeight = Init.xavierUniform([3 * embedDim, embedDim], using: &rng)
            qProjWeight = nil; kProjWeight = nil; vProjWeight = nil
        } else {
            inProjWeight = nil
            qProjWeight = Init.xavierUniform([embedDim, embedDim], using: &rng)
            kProjWeight = Init.xavierUniform([embedDim, self.kdim], using: &rng)
            vProjWeight = Init.xavierUniform([embedDim, self.vdim], using: &rng)
        }
        inProjBias = Tensor.zeros([3 * embedDim], requiresGrad: true)
        outProj = Linear(embedDim, embedDim, using: &rng)
        outProj.bias?.assign(Tensor.zeros([embedDim]))
    }

    /// query [L, N, E], key [S, N, kdim], value [S, N, vdim]; `keyPaddingMask` [N, S] is true
    /// where a key is padding (ignored); `attentionMask` [L, S] is added to the scores.
    /// Returns the output [L, N, E] and the attention weights averaged over heads [N, L, S].
    public func callAsFunction(query: Tensor, key: Tensor, value: Tensor, keyPaddingMask: BoolTensor? = nil,
                               attentionMask: Tensor? = nil, _ ctx: inout ForwardContext) -> (output: Tensor, weights: Tensor) {
        let l = query.shape[0], n = query.shape[1], s = key.shape[0]
        let e = embedDim, h = heads
        precondition(query.shape[2] == e && key.shape == [s, n, kdim] && value.shape[0] == s && value.shape[1] == n,
                     "MultiheadAttention: query \(query.shape), key \(key.shape), value \(value.shape)")
        let biases = inProjBias.split([e, e, e], axis: 0)
        let q: Tensor, k: Tensor, v: Tensor
        if let w = inProjWeight {
            let ws = w.split([e, e, e], axis: 0)
            q = query.linear(weight: ws[0], bias: biases[0])
            k = key.linear(weight: ws[1], bias: biases[1])
            v = value.linear(weight: ws[2], bias: biases[2])
        } else {
            q = query.linear(weight: qProjWeight!, bias: biases[0])
            k = key.linear(weight: kProjWeight!, bias: biases[1])
            v = value.linear(weight: vProjWeight!, bias: biases[2])
        }
        let (out, attn) = scaledDotProductAttention(q: q, k: k, v: v, heads: h, keyPaddingMask: keyPaddingMask,
                                                    attentionMask: attentionMask, dropout: dropout, &ctx)
        let averaged = attn.reshape([n, h, l, s]).mean(axis: 1)
        return (outProj(out), averaged)
    }

    public func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
        if let inProjWeight { body(prefix.appending("in_proj_weight"), inProjWeight, .parameter) }
        if let qProjWeight { body(prefix.appending("q_proj_weight"), qProjWeight, .parameter) }
        if let kProjWeight { body(prefix.appending("k_proj_weight"), kProjWeight, .parameter) }
        if let vProjWeight { body(prefix.appending("v_proj_weight"), vProjWeight, .parameter) }
        body(prefix.appending("in_proj_bias"), inProjBias, .parameter)
        visitChild(outProj, "out_proj", prefix, body)
    }
}

/// Multi-head scaled dot-product attention over already projected inputs (nn.MultiheadAttention
/// after its input projection; Conditional DETR's attention, which has none): q [L, N, H*dq],
/// k [S, N, H*dq], v [S, N, H*dv] -> [L, N, H*dv], scores scaled by dq^-0.5; `attentionMask`
/// [L, S] is added to the scores, `keyPaddingMask` [N, S] is true where a key is ignored.
/// Also returns the attention probabilities [N*H, L, S] (before dropout).
public func scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, heads h: Int, keyPaddingMask: BoolTensor? = nil,
                                      attentionMask: Tensor? = nil, dropout: Float,
                                      _ ctx: inout ForwardContext) -> (output: Tensor, weights: Tensor) {
    let l = q.shape[0], n = q.shape[1], s = k.shape[0]
    let dq = q.shape[2] / h, dv = v.shape[2] / h
    precondition(k.shape == [s, n, h * dq] && v.shape[0] == s && v.shape[1] == n && v.shape[2] % h == 0,
                 "attention: q \(q.shape), k \(k.shape), v \(v.shape), \(h) heads")
    // [L, N, H*d] -> [N*H, L, d]
    let qh = (q * (1 / Float(dq).squareRoot())).reshape([l, n * h, dq]).transpose(0, 1)
    let kh = k.reshape([s, n * h, dq]).transpose(0, 1)
    let vh = v.reshape([s, n * h, dv]).transpose(0, 1)
    var scores = qh.matmul(kh.transpose(1, 2))  // [N*H, L, S]
    if let attentionMask {
        precondition(attentionMask.shape == [l, s], "attention: attention mask \(attentionMask.shape) for [\(l), \(s)]")
        scores = scores + attentionMask
    }
    if let keyPaddingMask {
        precondition(keyPaddingMask.shape == [n, s], "attention: key padding mask \(keyPaddingMask.shape) for [\(n), \(s)]")
        scores = scores.reshape([n, h, l, s]).maskedFill(keyPaddingMask.reshaped([n, 1, 1, s]), -Float.infinity).reshape([n * h, l, s])
    }
    let attn = scores.softmax(axis: -1)
    let out = attn.dropout(dropout, training: ctx.training, using: &ctx.rng).matmul(vh).transpose(0, 1).reshape([l, n, h * dv])
    return (out, attn)
}
