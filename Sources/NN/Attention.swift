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
    /// where a key is padding (ignored); `attentionMask` [L, S] (or [N*H, L, S], one per image
    /// and head, image-major as PyTorch's 3-D masks) is added to the scores.
    /// Returns the output [L, N, E] and, with `needWeights` (PyTorch's `need_weights`), the
    /// attention weights averaged over heads [N, L, S]; without them, inference computes the
    /// attention in blocks of queries (see `scaledDotProductAttention`).
    /// `groups`: query groups folded into N (see `scaledDotProductAttention`).
    public func callAsFunction(query: Tensor, key: Tensor, value: Tensor, keyPaddingMask: BoolTensor? = nil,
                               attentionMask: Tensor? = nil, needWeights: Bool = false, groups: Int = 1,
                               _ ctx: inout ForwardContext) -> (output: Tensor, weights: Tensor?) {
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
                                                    attentionMask: attentionMask, dropout: dropout, needWeights: needWeights,
                                                    groups: groups, &ctx)
        return (outProj(out), attn.map { $0.reshape([n, h, l, s]).mean(axis: 1) })
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
/// [L, S] (or [N*H, L, S], image-major) is added to the scores, `keyPaddingMask` [N, S] is true
/// where a key is ignored. With `needWeights`, also returns the attention probabilities
/// [N*H, L, S] (before dropout). `groups` > 1: N holds Group DETR's query groups group-major
/// (`foldGroups`), for the per-sample dropout masks.
///
/// When nothing is recorded for a backward pass (inference, or inputs without gradients), no
/// dropout applies and the weights are not asked for, the scores are computed for blocks of
/// queries at a time (`AttentionBlocks.queryBlock`), so that the [N*H, L, S] score matrix, 3.5
/// GB for 8 heads over the 10,500 tokens of a 2000x1333 image at stride 16, never exists whole;
/// each row's result is the same as the unblocked computation (the same dot products, softmax
/// and sums per row).
public func scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, heads h: Int, keyPaddingMask: BoolTensor? = nil,
                                      attentionMask: Tensor? = nil, dropout: Float, needWeights: Bool = false, groups: Int = 1,
                                      _ ctx: inout ForwardContext) -> (output: Tensor, weights: Tensor?) {
    let l = q.shape[0], n = q.shape[1], s = k.shape[0]
    let dq = q.shape[2] / h, dv = v.shape[2] / h
    precondition(k.shape == [s, n, h * dq] && v.shape[0] == s && v.shape[1] == n && v.shape[2] % h == 0,
                 "attention: q \(q.shape), k \(k.shape), v \(v.shape), \(h) heads")
    if let attentionMask {
        precondition(attentionMask.shape == [l, s] || attentionMask.shape == [n * h, l, s],
                     "attention: attention mask \(attentionMask.shape) for [\(l), \(s)] or [\(n * h), \(l), \(s)]")
    }
    if let keyPaddingMask {
        precondition(keyPaddingMask.shape == [n, s], "attention: key padding mask \(keyPaddingMask.shape) for [\(n), \(s)]")
    }
    // [L, N, H*d] -> [N*H, L, d]
    let qh = (q * (1 / Float(dq).squareRoot())).reshape([l, n * h, dq]).transpose(0, 1)
    let kh = k.reshape([s, n * h, dq]).transpose(0, 1)
    let vh = v.reshape([s, n * h, dv]).transpose(0, 1)
    let records = Autograd.isEnabled && (q.requiresGrad || k.requiresGrad || v.requiresGrad || (attentionMask?.requiresGrad ?? false))
    let dropping = ctx.training && dropout > 0
    let block = AttentionBlocks.queryBlock(rows: n * h, keys: s)
    if !records && !dropping && !needWeights && block < l {
        let kt = kh.transpose(1, 2)
        var pieces: [Tensor] = []
        pieces.reserveCapacity((l + block - 1) / block)
        var start = 0
        while start < l {
            let rows = start..<Swift.min(l, start + block)
            let attn = attentionProbabilities(qh.slice(axis: 1, rows).matmul(kt), rows: rows, heads: h,
                                              keyPaddingMask: keyPaddingMask, attentionMask: attentionMask)
            pieces.append(attn.matmul(vh))
            start = rows.upperBound
        }
        return (Tensor.cat(pieces, axis: 1).transpose(0, 1).reshape([l, n, h * dv]), nil)
    }
    let attn = attentionProbabilities(qh.matmul(kh.transpose(1, 2)), rows: 0..<l, heads: h,
                                      keyPaddingMask: keyPaddingMask, attentionMask: attentionMask)
    // Rows n * H + h with n = group * B + sample (per-sample masks, see `Tensor.dropout`).
    let out = attn.dropout(dropout, training: ctx.training, sampleAxis: 0, groups: groups, perSample: h,
                           sampleOffset: ctx.sampleOffset, using: &ctx.rng).matmul(vh).transpose(0, 1).reshape([l, n, h * dv])
    return (out, needWeights ? attn : nil)
}

/// The softmax over keys of the scores [N*H, rows, S] of the query rows `rows`, with the masks.
private func attentionProbabilities(_ scores: Tensor, rows: Range<Int>, heads h: Int, keyPaddingMask: BoolTensor?,
                                    attentionMask: Tensor?) -> Tensor {
    var scores = scores
    let nh = scores.shape[0], l = rows.count, s = scores.shape[2]
    if let attentionMask {
        if attentionMask.rank == 2 {
            scores = scores + (rows.count == attentionMask.shape[0] ? attentionMask : attentionMask.slice(axis: 0, rows))
        } else {
            scores = scores + (rows.count == attentionMask.shape[1] ? attentionMask : attentionMask.slice(axis: 1, rows))
        }
    }
    if let keyPaddingMask {
        let n = nh / h
        scores = scores.reshape([n, h, l, s]).maskedFill(keyPaddingMask.reshaped([n, 1, 1, s]), -Float.infinity).reshape([nh, l, s])
    }
    return scores.softmax(axis: -1)
}

/// The block size of the attention's query-blocked path.
public enum AttentionBlocks {
    /// Score elements of one block (16 Mi floats, 64 MB); the attention is blocked only where
    /// the whole score matrix would be larger.
    public static let blockElements = 16 << 20

    /// Query rows per block for `rows` = N*H score matrices over `keys` keys.
    static func queryBlock(rows: Int, keys: Int) -> Int {
        max(1, blockElements / max(1, rows * keys))
    }
}
