import Base
import NN
import Tensor

/// The layers around a DETR-like transformer, under the official keys: `input_proj` (1x1 conv
/// of the backbone's last map to the model width), `query_embed` (K groups x Q learned
/// queries), `class_embed` (the class head: C sigmoid outputs, or C + 1 with "no object") and
/// `bbox_embed` (the 3-layer box MLP). Made after the transformer, as the official code does.
public final class QueryHeads: Module {
    public let inputProj: Conv2d
    public let queryEmbed: Embedding
    public let classEmbed: Linear
    public let bboxEmbed: MLP

    /// `focal`: the sigmoid focal recipe's initialisation (`focalHeadInit`).
    init(_ s: QueryDetectorSettings, backboneChannels: Int, classOutputs: Int, focal: Bool, using rng: inout SplitMix64) {
        inputProj = Conv2d(backboneChannels, s.dModel, kernel: (1, 1), using: &rng)
        queryEmbed = Embedding(s.numQueries * s.groups, s.dModel, using: &rng)
        classEmbed = Linear(s.dModel, classOutputs, using: &rng)
        bboxEmbed = MLP(input: s.dModel, hidden: s.dModel, output: 4, layers: 3, using: &rng)
        if focal { focalHeadInit(classEmbed: classEmbed, bboxEmbed: bboxEmbed) }
    }

    /// The query rows a forward pass runs and their group count: all K*Q rows (K groups) in
    /// training, group 0's Q rows at inference.
    func activeQueries(perGroup q: Int, groups k: Int, training: Bool) -> (queries: Tensor, groups: Int) {
        training || k == 1 ? (queryEmbed.weight, k) : (queryEmbed.weight.slice(axis: 0, 0..<q), 1)
    }

    /// The four heads' keys directly under `prefix` (in the official modules' order).
    public func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
        visitChild(classEmbed, "class_embed", prefix, body)
        visitChild(bboxEmbed, "bbox_embed", prefix, body)
        visitChild(queryEmbed, "query_embed", prefix, body)
        visitChild(inputProj, "input_proj", prefix, body)
    }
}

extension ResNet {
    /// The backbone of the settings; with frozen (pretrained) batch norms only layer2...layer4
    /// train, as the official DETR-family code freezes the stem and layer1.
    convenience init(_ s: QueryDetectorSettings, using rng: inout SplitMix64) {
        self.init(depth: s.backbone, norm: s.backboneNorm, dilation: s.dilation, stages: s.backboneStages, using: &rng)
        if s.backboneNorm == .frozen { freeze(prefixes: ["conv1", "layer1"]) }
    }
}
