import Base
import NN
import Tensor

/// Batch norm as the backbone uses it: frozen (pretrained weights, DETR's FrozenBatchNorm2d)
/// or trainable (training from scratch, where frozen statistics of a random init would switch
/// residual branches off for good).
public enum BackboneNorm: String, Sendable, Codable {
    case frozen, trainable
}

/// One norm layer of the backbone, either kind, with the same state-dict keys apart from
/// BatchNorm2d's `num_batches_tracked`.
final class Norm2d: Module {
    let frozen: FrozenBatchNorm2d?
    let batch: BatchNorm2d?

    init(_ channels: Int, kind: BackboneNorm) {
        switch kind {
        case .frozen: frozen = FrozenBatchNorm2d(channels); batch = nil
        case .trainable: frozen = nil; batch = BatchNorm2d(channels)
        }
    }

    func callAsFunction(_ x: Tensor, _ ctx: inout ForwardContext) -> Tensor {
        if let frozen { return frozen(x) }
        return batch!(x, &ctx)
    }

    /// The frozen norm's per-channel scale and shift, for folding into the convolution before it.
    var foldable: (scale: Tensor, shift: Tensor)? { frozen?.scaleAndShift() }

    func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
        frozen?.visit(prefix, body)
        batch?.visit(prefix, body)
    }
}

/// A bias-free convolution followed by a norm. With a frozen norm the two are one convolution
/// (weight * scale, bias = shift): the folded weights are recomputed from the stored ones on
/// every call, so loading new weights needs no bookkeeping and gradients still reach the
/// convolution's weight.
final class ConvNorm: Module {
    let conv: Conv2d
    let norm: Norm2d
    let convKey: String, normKey: String

    init(_ cin: Int, _ cout: Int, kernel: Int, stride: Int = 1, padding: Int = 0, dilation: Int = 1,
         norm kind: BackboneNorm, convKey: String, normKey: String, using rng: inout SplitMix64) {
        conv = Conv2d(cin, cout, kernel: (kernel, kernel), stride: (stride, stride), padding: (padding, padding),
                      dilation: (dilation, dilation), bias: false, using: &rng)
        // torchvision's ResNet init: kaiming_normal(fan_out, relu).
        conv.weight.assign(Init.kaimingNormalFanOut(conv.weight.shape, using: &rng))
        norm = Norm2d(cout, kind: kind)
        self.convKey = convKey
        self.normKey = normKey
    }

    /// The convolution and its norm, with a ReLU after them when `relu` (fused into the
    /// convolution's pass when the norm is folded).
    func callAsFunction(_ x: Tensor, relu: Bool = false, _ ctx: inout ForwardContext) -> Tensor {
        if let (scale, shift) = norm.foldable {
            let w = conv.weight * scale.reshape([scale.count, 1, 1, 1])
            return x.conv2d(weight: w, bias: shift, stride: conv.stride, padding: conv.padding, dilation: conv.dilation, relu: relu)
        }
        let y = norm(conv(x), &ctx)
        return relu ? y.relu() : y
    }

    func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
        visitChild(conv, convKey, prefix, body)
        visitChild(norm, normKey, prefix, body)
    }
}

/// A residual block (torchvision layout): BasicBlock (two 3x3) or Bottleneck (1x1, 3x3, 1x1).
final class ResidualBlock: Module {
    let layers: [ConvNorm]
    let downsample: ConvNorm?

    init(bottleneck: Bool, inChannels: Int, planes: Int, stride: Int, dilation: Int, norm: BackboneNorm, using rng: inout SplitMix64) {
        let expansion = bottleneck ? 4 : 1
        let out = planes * expansion
        if bottleneck {
            layers = [
                ConvNorm(inChannels, planes, kernel: 1, norm: norm, convKey: "conv1", normKey: "bn1", using: &rng),
                ConvNorm(planes, planes, kernel: 3, stride: stride, padding: dilation, dilation: dilation, norm: norm,
                         convKey: "conv2", normKey: "bn2", using: &rng),
                ConvNorm(planes, out, kernel: 1, norm: norm, convKey: "conv3", normKey: "bn3", using: &rng),
            ]
        } else {
            layers = [
                ConvNorm(inChannels, planes, kernel: 3, stride: stride, padding: dilation, dilation: dilation, norm: norm,
                         convKey: "conv1", normKey: "bn1", using: &rng),
                ConvNorm(planes, planes, kernel: 3, padding: dilation, dilation: dilation, norm: norm,
                         convKey: "conv2", normKey: "bn2", using: &rng),
            ]
        }
        downsample = stride != 1 || inChannels != out
            ? ConvNorm(inChannels, out, kernel: 1, stride: stride, norm: norm, convKey: "0", normKey: "1", using: &rng)
            : nil
    }

    func callAsFunction(_ x: Tensor, _ ctx: inout ForwardContext) -> Tensor {
        var h = x
        for (i, l) in layers.enumerated() { h = l(h, relu: i < layers.count - 1, &ctx) }
        let identity = downsample.map { $0(x, &ctx) } ?? x
        return h.addReLU(identity)
    }

    func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
        for l in layers { l.visit(prefix, body) }
        visitChild(downsample, "downsample", prefix, body)
    }
}

/// ResNet depths and their block layouts.
public enum ResNetDepth: Int, Sendable, Codable, CaseIterable {
    case resnet18 = 18, resnet34 = 34, resnet50 = 50, resnet101 = 101

    var bottleneck: Bool { self == .resnet50 || self == .resnet101 }
    var blocks: [Int] {
        switch self {
        case .resnet18: return [2, 2, 2, 2]
        case .resnet34: return [3, 4, 6, 3]
        case .resnet50: return [3, 4, 6, 3]
        case .resnet101: return [3, 4, 23, 3]
        }
    }

    /// Channels of layer1...layer4's outputs.
    public var stageChannels: [Int] { bottleneck ? [256, 512, 1024, 2048] : [64, 128, 256, 512] }
}

/// The ResNet trunk of DETR's backbone (torchvision keys under `body`): conv1, bn1, max-pool,
/// layer1...layer4; layer4 optionally dilated instead of strided (DC5), or left out
/// (`stages: 3`: the trunk ends at layer3, stride 16, with layer3's channels).
public final class ResNet: Module {
    public let depth: ResNetDepth
    public let norm: BackboneNorm
    /// Stages built (3 or 4).
    public let stageCount: Int
    let stem: ConvNorm
    let stages: [[ResidualBlock]]

    public init(depth: ResNetDepth, norm: BackboneNorm, dilation: Bool = false, stages stageCount: Int = 4, using rng: inout SplitMix64) {
        precondition(stageCount == 3 || stageCount == 4, "ResNet: 3 or 4 stages")
        self.depth = depth
        self.norm = norm
        self.stageCount = stageCount
        stem = ConvNorm(3, 64, kernel: 7, stride: 2, padding: 3, norm: norm, convKey: "conv1", normKey: "bn1", using: &rng)
        var stages: [[ResidualBlock]] = []
        var inChannels = 64
        var currentDilation = 1
        for (i, (planes, count)) in zip([64, 128, 256, 512], depth.blocks).prefix(stageCount).enumerated() {
            var stride = i == 0 ? 1 : 2
            let previousDilation = currentDilation
            if i == 3 && dilation {
                currentDilation *= stride
                stride = 1
            }
            var blocks: [ResidualBlock] = []
            for b in 0..<count {
                blocks.append(ResidualBlock(bottleneck: depth.bottleneck, inChannels: inChannels, planes: planes,
                                            stride: b == 0 ? stride : 1, dilation: b == 0 ? previousDilation : currentDilation,
                                            norm: norm, using: &rng))
                inChannels = planes * (depth.bottleneck ? 4 : 1)
            }
            stages.append(blocks)
        }
        self.stages = stages
        // torchvision's zero_init_residual is off by default: norms start at weight 1, bias 0.
    }

    /// Channels of the last stage's output.
    public var outputChannels: Int { depth.stageChannels[stageCount - 1] }

    /// The outputs of layer1...layer4 ([B, C_i, H_i, W_i]); `returnAll` false gives only the last stage.
    public func callAsFunction(_ x: Tensor, returnAll: Bool = false, _ ctx: inout ForwardContext) -> [Tensor] {
        var h = stem(x, relu: true, &ctx).maxPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1))
        var outs: [Tensor] = []
        for (i, stage) in stages.enumerated() {
            for block in stage { h = block(h, &ctx) }
            if returnAll || i == stages.count - 1 { outs.append(h) }
        }
        return outs
    }

    public func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
        stem.visit(prefix, body)
        for (i, stage) in stages.enumerated() {
            for (j, block) in stage.enumerated() {
                visitChild(block, "\(j)", prefix.appending("layer\(i + 1)"), body)
            }
        }
    }
}

/// Nearest-neighbour downsampling of a padding mask [B, H, W] to [B, h, w] (as DETR's
/// F.interpolate(mask[None].float(), size).bool()): source index floor(dst * H / h).
public func downsampleMask(_ mask: BoolTensor, to h: Int, _ w: Int) -> BoolTensor {
    precondition(mask.shape.count == 3, "downsampleMask: mask of shape \(mask.shape)")
    let b = mask.shape[0], H = mask.shape[1], W = mask.shape[2]
    let sy = Float(H) / Float(h), sx = Float(W) / Float(w)
    var out = [Bool](repeating: false, count: b * h * w)
    for n in 0..<b {
        for y in 0..<h {
            let iy = Swift.min(Int((Float(y) * sy).rounded(.down)), H - 1)
            for x in 0..<w {
                let ix = Swift.min(Int((Float(x) * sx).rounded(.down)), W - 1)
                out[(n * h + y) * w + x] = mask.values[(n * H + iy) * W + ix]
            }
        }
    }
    return BoolTensor(out, shape: [b, h, w])
}
