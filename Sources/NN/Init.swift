import Base
import Tensor

/// PyTorch's default initialisations, drawn from an explicit generator.
public enum Init {
    /// nn.Linear / nn.Conv2d default: kaiming_uniform(a = sqrt(5)), i.e. U(-1/sqrt(fanIn), 1/sqrt(fanIn)).
    public static func kaimingUniformDefault(_ shape: [Int], fanIn: Int, using rng: inout SplitMix64) -> Tensor {
        let bound = 1 / Float(Swift.max(fanIn, 1)).squareRoot()
        return Tensor.uniform(shape, low: -bound, high: bound, using: &rng, requiresGrad: true)
    }

    /// Bias default of nn.Linear / nn.Conv2d: U(-1/sqrt(fanIn), 1/sqrt(fanIn)).
    public static func biasDefault(_ n: Int, fanIn: Int, using rng: inout SplitMix64) -> Tensor {
        kaimingUniformDefault([n], fanIn: fanIn, using: &rng)
    }

    /// xavier_uniform: U(-a, a), a = gain * sqrt(6 / (fanIn + fanOut)) (fans of a 2-D weight).
    public static func xavierUniform(_ shape: [Int], gain: Float = 1, using rng: inout SplitMix64) -> Tensor {
        let receptive = shape.dropFirst(2).reduce(1, *)
        let fanIn = (shape.count > 1 ? shape[1] : 1) * receptive
        let fanOut = shape[0] * receptive
        let a = gain * (6 / Float(Swift.max(fanIn + fanOut, 1))).squareRoot()
        return Tensor.uniform(shape, low: -a, high: a, using: &rng, requiresGrad: true)
    }

    /// kaiming_normal(mode = fan_out, relu): N(0, sqrt(2 / fanOut)) (torchvision's ResNet convs).
    public static func kaimingNormalFanOut(_ shape: [Int], using rng: inout SplitMix64) -> Tensor {
        let fanOut = shape[0] * shape.dropFirst(2).reduce(1, *)
        return Tensor.normal(shape, std: (2 / Float(fanOut)).squareRoot(), using: &rng, requiresGrad: true)
    }
}
