import Base
import Tensor

/// `y = x W^T + b` (weight [out, in], bias [out]).
public final class Linear: Module {
    public let weight: Tensor
    public let bias: Tensor?

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, using rng: inout SplitMix64) {
        precondition(inFeatures > 0 && outFeatures > 0, "Linear: sizes must be positive")
        weight = Init.kaimingUniformDefault([outFeatures, inFeatures], fanIn: inFeatures, using: &rng)
        self.bias = bias ? Init.biasDefault(outFeatures, fanIn: inFeatures, using: &rng) : nil
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.linear(weight: weight, bias: bias) }

    public func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
        body(prefix.appending("weight"), weight, .parameter)
        if let bias { body(prefix.appending("bias"), bias, .parameter) }
    }
}

/// 2-D convolution with PyTorch's layout (weight [out, in/groups, kh, kw]).
public final class Conv2d: Module {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int), groups: Int

    public init(_ inChannels: Int, _ outChannels: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0),
                dilation: (Int, Int) = (1, 1), groups: Int = 1, bias: Bool = true, using rng: inout SplitMix64) {
        precondition(inChannels % groups == 0 && outChannels % groups == 0, "Conv2d: channels must divide by groups")
        let fanIn = inChannels / groups * kernel.0 * kernel.1
        weight = Init.kaimingUniformDefault([outChannels, inChannels / groups, kernel.0, kernel.1], fanIn: fanIn, using: &rng)
        self.bias = bias ? Init.biasDefault(outChannels, fanIn: fanIn, using: &rng) : nil
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.conv2d(weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups)
    }

    public func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
        body(prefix.appending("weight"), weight, .parameter)
        if let bias { body(prefix.appending("bias"), bias, .parameter) }
    }
}

/// Layer norm over the last dimension.
public final class LayerNorm: Module {
    public let weight: Tensor
    public let bias: Tensor
    public let eps: Float

    public init(_ d: Int, eps: Float = 1e-5) {
        weight = Tensor.ones([d], requiresGrad: true)
        bias = Tensor.zeros([d], requiresGrad: true)
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.layerNorm(weight: weight, bias: bias, eps: eps) }

    public func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
        body(prefix.appending("weight"), weight, .parameter)
        body(prefix.appending("bias"), bias, .parameter)
    }
}

/// Group norm of [N, C, ...].
public final class GroupNorm: Module {
    public let groups: Int
    public let weight: Tensor
    public let bias: Tensor
    public let eps: Float

    public init(groups: Int, channels: Int, eps: Float = 1e-5) {
        precondition(channels % groups == 0, "GroupNorm: \(channels) channels in \(groups) groups")
        self.groups = groups
        weight = Tensor.ones([channels], requiresGrad: true)
        bias = Tensor.zeros([channels], requiresGrad: true)
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.groupNorm(groups: groups, weight: weight, bias: bias, eps: eps) }

    public func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
        body(prefix.appending("weight"), weight, .parameter)
        body(prefix.appending("bias"), bias, .parameter)
    }
}

/// Batch norm with running statistics (trainable affine; training mode from the context).
public final class BatchNorm2d: Module {
    public let weight: Tensor
    public let bias: Tensor
    public let runningMean: Tensor
    public let runningVar: Tensor
    /// PyTorch's `num_batches_tracked` (kept for state-dict compatibility).
    public let numBatchesTracked: Tensor
    public let momentum: Float
    public let eps: Float

    public init(_ channels: Int, momentum: Float = 0.1, eps: Float = 1e-5) {
        weight = Tensor.ones([channels], requiresGrad: true)
        bias = Tensor.zeros([channels], requiresGrad: true)
        runningMean = Tensor.zeros([channels])
        runningVar = Tensor.ones([channels])
        numBatchesTracked = Tensor.zeros([])
        self.momentum = momentum
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor, _ ctx: inout ForwardContext) -> Tensor {
        if ctx.training { numBatchesTracked.data[0] += 1 }
        return x.batchNorm(weight: weight, bias: bias, runningMean: runningMean, runningVar: runningVar,
                           training: ctx.training, momentum: momentum, eps: eps)
    }

    public func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
        body(prefix.appending("weight"), weight, .parameter)
        body(prefix.appending("bias"), bias, .parameter)
        body(prefix.appending("running_mean"), runningMean, .buffer)
        body(prefix.appending("running_var"), runningVar, .buffer)
        body(prefix.appending("num_batches_tracked"), numBatchesTracked, .buffer)
    }
}

/// DETR's FrozenBatchNorm2d: fixed statistics and affine, stored as buffers (its checkpoint
/// keys: weight, bias, running_mean, running_var); eps 1e-5.
public final class FrozenBatchNorm2d: Module {
    public let weight: Tensor
    public let bias: Tensor
    public let runningMean: Tensor
    public let runningVar: Tensor
    public let eps: Float

    public init(_ channels: Int, eps: Float = 1e-5) {
        weight = Tensor.ones([channels])
        bias = Tensor.zeros([channels])
        runningMean = Tensor.zeros([channels])
        runningVar = Tensor.ones([channels])
        self.eps = eps
    }

    /// The per-channel scale and shift the statistics amount to.
    public func scaleAndShift() -> (scale: Tensor, shift: Tensor) {
        let c = weight.count
        let scale = Tensor.empty([c]), shift = Tensor.empty([c])
        for i in 0..<c {
            let s = weight.data[i] / (runningVar.data[i] + eps).squareRoot()
            scale.data[i] = s
            shift.data[i] = bias.data[i] - runningMean.data[i] * s
        }
        return (scale, shift)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let (s, b) = scaleAndShift()
        return x.channelAffine(scale: s, shift: b)
    }

    public func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
        body(prefix.appending("weight"), weight, .buffer)
        body(prefix.appending("bias"), bias, .buffer)
        body(prefix.appending("running_mean"), runningMean, .buffer)
        body(prefix.appending("running_var"), runningVar, .buffer)
    }
}

/// A lookup table of embeddings [num, dim] (N(0, 1) init, as PyTorch).
public final class Embedding: Module {
    public let weight: Tensor

    public init(_ count: Int, _ dim: Int, using rng: inout SplitMix64) {
        weight = Tensor.normal([count, dim], using: &rng, requiresGrad: true)
    }

    public func callAsFunction(_ indices: IntTensor) -> Tensor { Tensor.embedding(weight, indices) }

    public func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
        body(prefix.appending("weight"), weight, .parameter)
    }
}

/// Dropout with probability p in training mode, on `[L, N, C]` sequences (the transformers'
/// layout: samples on dimension 1), each sample's mask drawn on its own (`ForwardContext.sampleOffset`).
public struct Dropout {
    public let p: Float

    public init(_ p: Float) {
        precondition(p >= 0 && p < 1, "Dropout: p must be in [0, 1)")
        self.p = p
    }

    public func callAsFunction(_ x: Tensor, _ ctx: inout ForwardContext) -> Tensor {
        x.dropout(p, training: ctx.training, sampleAxis: 1, sampleOffset: ctx.sampleOffset, using: &ctx.rng)
    }
}

/// DETR's MLP: `numLayers` Linear layers (keys `layers.i`) with ReLU between them.
public final class MLP: Module {
    public let layers: [Linear]

    public init(input: Int, hidden: Int, output: Int, layers n: Int, using rng: inout SplitMix64) {
        precondition(n >= 1, "MLP: at least one layer")
        let sizes = [input] + [Int](repeating: hidden, count: n - 1)
        let outs = [Int](repeating: hidden, count: n - 1) + [output]
        layers = zip(sizes, outs).map { Linear($0, $1, using: &rng) }
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = x
        for (i, l) in layers.enumerated() {
            h = l(h)
            if i < layers.count - 1 { h = h.relu() }
        }
        return h
    }

    public func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
        for (i, l) in layers.enumerated() { visitChild(l, "\(i)", prefix.appending("layers"), body) }
    }
}

/// Children in order with keys `0, 1, ...` (nn.Sequential) for modules applied one after another.
public final class Sequential: Module {
    public let children: [Module]
    let apply: [(Tensor) -> Tensor]

    public init(_ layers: [(module: Module, forward: (Tensor) -> Tensor)]) {
        children = layers.map { $0.module }
        apply = layers.map { $0.forward }
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { apply.reduce(x) { $1($0) } }

    public func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
        for (i, c) in children.enumerated() { visitChild(c, "\(i)", prefix, body) }
    }
}
