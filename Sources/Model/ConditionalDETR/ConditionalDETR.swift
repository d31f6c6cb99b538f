import Base
import NN
import Tensor

/// Conditional DETR's decoder layer (official keys): self-attention from separate content and
/// position projections (`sa_*`, `self_attn.out_proj`), conditional cross-attention whose
/// queries and keys concatenate, per head, a content part and a spatial part (`ca_*`,
/// `cross_attn.out_proj`), then the FFN; post-norm. Sequences are [S, B, C].
final class ConditionalDecoderLayer: Module {
    let saQContent: Linear, saQPos: Linear, saKContent: Linear, saKPos: Linear, saV: Linear, selfOut: Linear
    let caQContent: Linear, caQPos: Linear?, caKContent: Linear, caKPos: Linear, caV: Linear, caQPosSine: Linear, crossOut: Linear
    let linear1: Linear, linear2: Linear
    let norm1: LayerNorm, norm2: LayerNorm, norm3: LayerNorm
    let dropout: Dropout
    let attentionDropout: Float
    let heads: Int

    init(_ c: ConditionalDETRConfig, first: Bool, using rng: inout SplitMix64) {
        let d = c.dModel
        func linear(_ inF: Int = d, _ outF: Int = d) -> Linear { Linear(inF, outF, using: &rng) }
        saQContent = linear(); saQPos = linear(); saKContent = linear(); saKPos = linear(); saV = linear(); selfOut = linear()
        caQContent = linear(); caQPos = first ? linear() : nil; caKContent = linear(); caKPos = linear(); caV = linear()
        caQPosSine = linear(); crossOut = linear()
        linear1 = linear(d, c.feedForward)
        linear2 = linear(c.feedForward, d)
        norm1 = LayerNorm(d); norm2 = LayerNorm(d); norm3 = LayerNorm(d)
        // The official MultiheadAttention starts its output bias at zero.
        for l in [selfOut, crossOut] { l.bias?.assign(Tensor.zeros([d])) }
        dropout = Dropout(c.dropout)
        attentionDropout = c.dropout
        heads = c.heads
    }

    /// tgt [Q, B, C] (K*Q with K query groups), memory / pos [HW, B, C], queryPos [Q, B, C],
    /// sine [Q, B, C] (the scaled sine embedding of the reference points).
    func callAsFunction(_ tgt: Tensor, memory: Tensor, memoryMask: BoolTensor?, pos: Tensor, queryPos: Tensor, sine: Tensor,
                        groups: Int, _ ctx: inout ForwardContext) -> Tensor {
        let q = saQContent(tgt) + saQPos(queryPos)
        let k = saKContent(tgt) + saKPos(queryPos)
        let v = saV(tgt)
        let sa = scaledDotProductAttention(q: foldGroups(q, groups: groups), k: foldGroups(k, groups: groups),
                                           v: foldGroups(v, groups: groups), heads: heads, dropout: attentionDropout,
                                           groups: groups, &ctx).output
        var t = norm1(tgt + dropout(selfOut(unfoldGroups(sa, groups: groups)), &ctx))

        let nq = t.shape[0], b = t.shape[1], d = t.shape[2], hw = memory.shape[0], hd = d / heads
        var qc = caQContent(t)
        var kc = caKContent(memory)
        let kp = caKPos(pos)
        if let caQPos {
            qc = qc + caQPos(queryPos)
            kc = kc + kp
        }
        let s = caQPosSine(sine)
        // Per head: [content ; spatial], width 2 * d / heads.
        let cq = Tensor.cat([qc.reshape([nq, b, heads, hd]), s.reshape([nq, b, heads, hd])], axis: 3).reshape([nq, b, 2 * d])
        let ck = Tensor.cat([kc.reshape([hw, b, heads, hd]), kp.reshape([hw, b, heads, hd])], axis: 3).reshape([hw, b, 2 * d])
        let ca = scaledDotProductAttention(q: cq, k: ck, v: caV(memory), heads: heads, keyPaddingMask: memoryMask,
                                           dropout: attentionDropout, &ctx).output
        t = norm2(t + dropout(crossOut(ca), &ctx))
        return norm3(t + dropout(linear2(dropout(linear1(t).relu(), &ctx)), &ctx))
    }

    func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
        visitChild(saQContent, "sa_qcontent_proj", prefix, body)
        visitChild(saQPos, "sa_qpos_proj", prefix, body)
        visitChild(saKContent, "sa_kcontent_proj", prefix, body)
        visitChild(saKPos, "sa_kpos_proj", prefix, body)
        visitChild(saV, "sa_v_proj", prefix, body)
        visitChild(selfOut, "out_proj", prefix.appending("self_attn"), body)
        visitChild(caQContent, "ca_qcontent_proj", prefix, body)
        visitChild(caQPos, "ca_qpos_proj", prefix, body)
        visitChild(caKContent, "ca_kcontent_proj", prefix, body)
        visitChild(caKPos, "ca_kpos_proj", prefix, body)
        visitChild(caV, "ca_v_proj", prefix, body)
        visitChild(caQPosSine, "ca_qpos_sine_proj", prefix, body)
        visitChild(crossOut, "out_proj", prefix.appending("cross_attn"), body)
        visitChild(linear1, "linear1", prefix, body)
        visitChild(linear2, "linear2", prefix, body)
        visitChild(norm1, "norm1", prefix, body)
        visitChild(norm2, "norm2", prefix, body)
        visitChild(norm3, "norm3", prefix, body)
    }
}

/// Conditional DETR's transformer: DETR's encoder, then a decoder whose queries look around
/// one learned reference point each (`ref_point_head` on the query embedding, sigmoid), with
/// the spatial query of layer l the sine embedding of that point scaled by `query_scale` of
/// the previous layer's output (1 in layer 0). Keys `transformer.encoder.layers.*`,
/// `transformer.decoder.{layers.*, norm, query_scale, ref_point_head}`.
final class ConditionalTransformer: Module {
    let encoderLayers: [EncoderLayer]
    let decoderLayers: [ConditionalDecoderLayer]
    let decoderNorm: LayerNorm
    let queryScale: MLP
    let refPointHead: MLP
    let dModel: Int

    init(_ c: ConditionalDETRConfig, using rng: inout SplitMix64) {
        dModel = c.dModel
        encoderLayers = (0..<c.encoderLayers).map { _ in
            EncoderLayer(dModel: c.dModel, heads: c.heads, feedForward: c.feedForward, dropout: c.dropout, preNorm: false, using: &rng)
        }
        decoderLayers = (0..<c.decoderLayers).map { ConditionalDecoderLayer(c, first: $0 == 0, using: &rng) }
        decoderNorm = LayerNorm(c.dModel)
        queryScale = MLP(input: c.dModel, hidden: c.dModel, output: c.dModel, layers: 2, using: &rng)
        refPointHead = MLP(input: c.dModel, hidden: c.dModel, output: 2, layers: 2, using: &rng)
        // The official _reset_parameters: xavier_uniform on every parameter of rank >= 2.
        visit(ParameterKey()) { _, t, kind in
            if kind == .parameter && t.rank > 1 { t.assign(Init.xavierUniform(t.shape, using: &rng)) }
        }
    }

    /// src [B, C, h, w], mask [B, h, w] (true = padding), queries [K*Q, C], pos [B, C, h, w].
    /// Returns every layer's normed output [L, B, K*Q, C] and the reference points [B, K*Q, 2].
    func callAsFunction(src: Tensor, mask: BoolTensor, queries: Tensor, pos: Tensor, groups: Int,
                        _ ctx: inout ForwardContext) -> (hs: Tensor, reference: Tensor) {
        let b = src.shape[0], c = src.shape[1], hw = src.shape[2] * src.shape[3], nq = queries.shape[0]
        let s = src.reshape([b, c, hw]).permute([2, 0, 1])          // [HW, B, C]
        let p = pos.reshape([b, c, hw]).permute([2, 0, 1])
        let m = mask.reshaped([b, hw])
        var memory = s
        for layer in encoderLayers { memory = layer(memory, mask: m, pos: p, &ctx) }

        let queryPos = queries.unsqueeze(1).expand([nq, b, c])      // [Q, B, C]
        let reference = refPointHead(queries).sigmoid()              // [Q, 2], the same for every image
        let sine = sinePointEmbedding(reference, features: dModel / 2).unsqueeze(1).expand([nq, b, c])  // [Q, B, C]
        var out = Tensor.zeros([nq, b, c])
        var intermediate: [Tensor] = []
        for (i, layer) in decoderLayers.enumerated() {
            let scaled = i == 0 ? sine : sine * queryScale(out)
            out = layer(out, memory: memory, memoryMask: m, pos: p, queryPos: queryPos, sine: scaled, groups: groups, &ctx)
            intermediate.append(decoderNorm(out))
        }
        let hs = Tensor.stack(intermediate, axis: 0).transpose(1, 2)  // [L, B, Q, C]
        return (hs, reference.unsqueeze(0).expand([b, nq, 2]))
    }

    func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
        for (i, l) in encoderLayers.enumerated() { visitChild(l, "\(i)", prefix.appending("encoder").appending("layers"), body) }
        for (i, l) in decoderLayers.enumerated() { visitChild(l, "\(i)", prefix.appending("decoder").appending("layers"), body) }
        visitChild(decoderNorm, "norm", prefix.appending("decoder"), body)
        visitChild(queryScale, "query_scale", prefix.appending("decoder"), body)
        visitChild(refPointHead, "ref_point_head", prefix.appending("decoder"), body)
    }
}

/// Conditional DETR with the official Atten4Vis/ConditionalDETR keys: `backbone.0.body.*`,
/// `transformer.*`, `input_proj`, `query_embed` (K*Q rows with K query groups),
/// `class_embed` (C sigmoid logits, prior bias), `bbox_embed.layers.*` (boxes relative to
/// each query's reference point: sigmoid(bbox_embed(h) + [inverse_sigmoid(ref), 0, 0])).
public final class ConditionalDETR: Module, DetectionNetwork {
    public let config: ConditionalDETRConfig
    public let backbone: ResNet
    public var resnetBackbone: ResNet { backbone }
    let transformer: ConditionalTransformer
    let sine: SinePositionEncoding
    public let heads: QueryHeads

    public init(_ config: ConditionalDETRConfig, using rng: inout SplitMix64) {
        precondition(config.problems().isEmpty, "ConditionalDETRConfig: " + config.problems().joined(separator: "; "))
        self.config = config
        backbone = ResNet(config.shared, using: &rng)
        transformer = ConditionalTransformer(config, using: &rng)
        sine = SinePositionEncoding(numPosFeats: config.dModel / 2)
        heads = QueryHeads(config.shared, backboneChannels: backbone.outputChannels, classOutputs: config.numClasses, focal: true,
                           using: &rng)
    }

    public func callAsFunction(images: Tensor, mask: BoolTensor, _ ctx: inout ForwardContext) -> DETROutput {
        precondition(images.rank == 4 && images.shape[1] == 3 && mask.shape == [images.shape[0], images.shape[2], images.shape[3]],
                     "ConditionalDETR: images \(images.shape) with mask \(mask.shape)")
        let feature = backbone(images, &ctx)[0]
        let featureMask = downsampleMask(mask, to: feature.shape[2], feature.shape[3])
        let (queries, groups) = heads.activeQueries(perGroup: config.numQueries, groups: config.groups, training: ctx.training)
        let (hs, reference) = transformer(src: heads.inputProj(feature), mask: featureMask, queries: queries, pos: sine(mask: featureMask),
                                          groups: groups, &ctx)
        let logits = heads.classEmbed(hs)                                             // [L, B, Q, C]
        let offset = Tensor.cat([inverseSigmoid(reference), Tensor.zeros(reference.shape)], axis: 2)  // [B, Q, 4]
        let boxes = (heads.bboxEmbed(hs) + offset).sigmoid()                          // [L, B, Q, 4]
        return .fromLayers(logits: logits, boxes: boxes, auxLoss: config.auxLoss, scoring: .sigmoid, groups: groups)
    }

    public func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
        visitChild(transformer, "transformer", prefix, body)
        heads.visit(prefix, body)
        visitChild(backbone, "body", prefix.appending("backbone").appending("0"), body)
    }
}
