import Base
import NN
import Tensor

/// DETR's MHAttentionMap: per-head attention of each decoder output over the encoder's
/// feature map, normalised jointly over heads and positions (keys q_linear, k_linear).
/// Output [B, Q, heads, h, w].
public final class MHAttentionMap: Module {
    let qLinear: Linear, kLinear: Linear
    let heads: Int, hidden: Int

    public init(queryDim: Int, hiddenDim: Int, heads: Int, using rng: inout SplitMix64) {
        precondition(hiddenDim % heads == 0, "MHAttentionMap: hidden \(hiddenDim) not divisible by \(heads) heads")
        qLinear = Linear(queryDim, hiddenDim, using: &rng)
        kLinear = Linear(queryDim, hiddenDim, using: &rng)
        for l in [qLinear, kLinear] {
            l.weight.assign(Init.xavierUniform(l.weight.shape, using: &rng))
            l.bias!.assign(Tensor.zeros([hiddenDim]))
        }
        self.heads = heads
        hidden = hiddenDim
    }

    /// q [B, Q, C], k [B, C, h, w], mask [B, h, w] true on padding.
    public func callAsFunction(_ q: Tensor, _ k: Tensor, mask: BoolTensor?) -> Tensor {
        let b = q.shape[0], nq = q.shape[1], h = k.shape[2], w = k.shape[3]
        let hd = hidden / heads
        let qp = qLinear(q) * (1 / Float(hd).squareRoot())                                    // [B, Q, hidden]
        let kp = k.conv2d(weight: kLinear.weight.reshape([hidden, k.shape[1], 1, 1]), bias: kLinear.bias)  // [B, hidden, h, w]
        let qh = qp.reshape([b, nq, heads, hd]).permute([0, 2, 1, 3])                         // [B, n, Q, hd]
        let kh = kp.reshape([b, heads, hd, h * w])                                            // [B, n, hd, hw]
        var weights = qh.matmul(kh).permute([0, 2, 1, 3])                                     // [B, Q, n, hw]
        if let mask {
            weights = weights.maskedFill(mask.reshaped([b, 1, 1, h * w]), -Float.infinity)
        }
        return weights.reshape([b, nq, heads * h * w]).softmax(axis: -1).reshape([b, nq, heads, h, w])
    }

    public func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
        visitChild(qLinear, "q_linear", prefix, body)
        visitChild(kLinear, "k_linear", prefix, body)
    }
}

/// DETR's MaskHeadSmallConv: an FPN-style upsampling head over the attention maps and the
/// backbone's layer3, layer2, layer1 features, with GroupNorm(8) (keys lay1...lay5, gn1...gn5,
/// out_lay, adapter1...adapter3).
public final class MaskHeadSmallConv: Module {
    let lays: [Conv2d]
    let gns: [GroupNorm]
    let outLay: Conv2d
    let adapters: [Conv2d]

    public init(dim: Int, fpnDims: [Int], contextDim: Int, using rng: inout SplitMix64) {
        let inter = [dim, contextDim / 2, contextDim / 4, contextDim / 8, contextDim / 16]
        var lays: [Conv2d] = [], gns: [GroupNorm] = []
        for i in 0..<5 {
            lays.append(Conv2d(i == 0 ? dim : inter[i - 1], inter[i], kernel: (3, 3), padding: (1, 1), using: &rng))
            gns.append(GroupNorm(groups: 8, channels: inter[i]))
        }
        self.lays = lays
        self.gns = gns
        outLay = Conv2d(inter[4], 1, kernel: (3, 3), padding: (1, 1), using: &rng)
        adapters = (0..<3).map { Conv2d(fpnDims[$0], inter[$0 + 1], kernel: (1, 1), using: &rng) }
        // DETR: kaiming_uniform_(a=1) weights, zero biases, for every convolution.
        for c in lays + [outLay] + adapters {
            let fanIn = c.weight.shape[1] * c.weight.shape[2] * c.weight.shape[3]
            let bound = (3 / Float(fanIn)).squareRoot()
            c.weight.assign(Tensor.uniform(c.weight.shape, low: -bound, high: bound, using: &rng))
            c.bias!.assign(Tensor.zeros([c.weight.shape[0]]))
        }
    }

    /// Repeats each batch entry `n` times along a new axis 1 and folds it into the batch.
    static func expand(_ t: Tensor, _ n: Int) -> Tensor {
        let s = t.shape
        return t.unsqueeze(1).expand([s[0], n] + Array(s.dropFirst())).reshape([s[0] * n] + Array(s.dropFirst()))
    }

    /// x [B, C, h, w] (projected features), attention [B, Q, heads, h, w], fpns = [layer3,
    /// layer2, layer1] features. Output [B*Q, 1, H/4, W/4] mask logits.
    public func callAsFunction(_ x: Tensor, attention: Tensor, fpns: [Tensor]) -> Tensor {
        let b = attention.shape[0], nq = attention.shape[1]
        let att = attention.reshape([b * nq] + Array(attention.shape.dropFirst(2)))
        var h = Tensor.cat([Self.expand(x, nq), att], axis: 1)
        h = gns[0](lays[0](h)).relu()
        h = gns[1](lays[1](h)).relu()
        for i in 0..<3 {
            var fpn = adapters[i](fpns[i])
            if fpn.shape[0] != h.shape[0] { fpn = Self.expand(fpn, h.shape[0] / fpn.shape[0]) }
            h = fpn + h.interpolateNearest(fpn.shape[2], fpn.shape[3])
            h = gns[i + 2](lays[i + 2](h)).relu()
        }
        return outLay(h)
    }

    public func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
        for i in 0..<5 {
            visitChild(lays[i], "lay\(i + 1)", prefix, body)
            visitChild(gns[i], "gn\(i + 1)", prefix, body)
        }
        visitChild(outLay, "out_lay", prefix, body)
        for i in 0..<3 { visitChild(adapters[i], "adapter\(i + 1)", prefix, body) }
    }
}

/// DETR with the segmentation head (DETRsegm): keys `detr.*`, `bbox_attention.*`, `mask_head.*`.
/// Outputs carry `masks` [B, Q, H/4, W/4] (logits) for the last decoder layer.
public final class DETRSegmentation: Module {
    public let detr: DETR
    let bboxAttention: MHAttentionMap
    let maskHead: MaskHeadSmallConv

    public init(_ config: DETRConfig, using rng: inout SplitMix64) {
        detr = DETR(config, using: &rng)
        bboxAttention = MHAttentionMap(queryDim: config.dModel, hiddenDim: config.dModel, heads: config.heads, using: &rng)
        let stages = config.backbone.stageChannels
        maskHead = MaskHeadSmallConv(dim: config.dModel + config.heads, fpnDims: [stages[2], stages[1], stages[0]],
                                     contextDim: config.dModel, using: &rng)
    }

    public func callAsFunction(images: Tensor, mask: BoolTensor, _ ctx: inout ForwardContext) -> DETROutput {
        let r = detr.forwardIntermediate(images: images, mask: mask, allStages: true, &ctx)
        let last = r.hs.slice(axis: 0, (r.hs.shape[0] - 1)..<r.hs.shape[0]).squeeze(0)  // [B, Q, C]
        let attention = bboxAttention(last, r.memory, mask: r.featureMask)
        let masks = maskHead(r.projected, attention: attention, fpns: [r.features[2], r.features[1], r.features[0]])
        var out = r.output
        out.masks = masks.reshape([last.shape[0], last.shape[1], masks.shape[2], masks.shape[3]])
        return out
    }

    public func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
        visitChild(detr, "detr", prefix, body)
        visitChild(bboxAttention, "bbox_attention", prefix, body)
        visitChild(maskHead, "mask_head", prefix, body)
    }
}
