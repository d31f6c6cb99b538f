import Base
import Foundation
import NN
import Tensor

/// Multi-scale deformable attention (Zhu et al., Deformable DETR), the attention of
/// Mask2Former's MSDeformAttnPixelDecoder, under the official keys `sampling_offsets`,
/// `attention_weights`, `value_proj` and `output_proj`.
///
/// Each query looks at `points` samples per head and level around its reference point: the
/// offsets (in pixels of each level) and their attention weights (softmax over levels x points)
/// are linear maps of the query; the samples are bilinear in the projected value maps.
public final class MSDeformAttn: Module {
    public let dModel, levels, heads, points: Int
    /// [H*L*P*2, C]: the (x, y) offsets of every head, level and point.
    public let samplingOffsets: Linear
    /// [H*L*P, C]: the attention logits.
    public let attentionWeights: Linear
    public let valueProj: Linear
    public let outputProj: Linear
    /// Which implementation of the sampling op runs (the fused kernels by default).
    public var backend = DeformableAttentionBackend.default

    /// The paper's sizes by default (Mask2Former's pixel decoder uses 3 levels).
    public init(dModel: Int = 256, levels: Int = 4, heads: Int = 8, points: Int = 4, using rng: inout SplitMix64) {
        precondition(dModel > 0 && heads > 0 && dModel % heads == 0, "MSDeformAttn: dModel \(dModel) is not a multiple of heads \(heads)")
        precondition(levels > 0 && points > 0, "MSDeformAttn: \(levels) levels, \(points) points")
        self.dModel = dModel
        self.levels = levels
        self.heads = heads
        self.points = points
        samplingOffsets = Linear(dModel, heads * levels * points * 2, using: &rng)
        attentionWeights = Linear(dModel, heads * levels * points, using: &rng)
        valueProj = Linear(dModel, dModel, using: &rng)
        outputProj = Linear(dModel, dModel, using: &rng)
        resetParameters(using: &rng)
    }

    /// The official `_reset_parameters`: offsets start at fixed directions (weight 0, bias the
    /// direction grid), attention weights uniform (weight and bias 0), the projections
    /// xavier-uniform with zero biases.
    func resetParameters(using rng: inout SplitMix64) {
        samplingOffsets.weight.assign(Tensor.zeros(samplingOffsets.weight.shape))
        samplingOffsets.bias!.assign(Self.directionGrid(heads: heads, levels: levels, points: points))
        attentionWeights.weight.assign(Tensor.zeros(attentionWeights.weight.shape))
        attentionWeights.bias!.assign(Tensor.zeros([heads * levels * points]))
        for proj in [valueProj, outputProj] {
            proj.weight.assign(Init.xavierUniform(proj.weight.shape, using: &rng))
            proj.bias!.assign(Tensor.zeros([dModel]))
        }
    }

    /// [H*L*P*2]: head h's direction (cos t, sin t), t = 2 pi h / H, divided by its larger
    /// absolute coordinate (a point on the square of radius 1), times point index + 1, the same
    /// for every level; computed in Float as the official code does.
    static func directionGrid(heads: Int, levels: Int, points: Int) -> Tensor {
        var grid: [Float] = []
        grid.reserveCapacity(heads * levels * points * 2)
        let step = Float(2.0 * Double.pi / Double(heads))
        for h in 0..<heads {
            let theta = Float(h) * step
            let (x, y) = (Foundation.cos(theta), Foundation.sin(theta))
            let m = Swift.max(Swift.abs(x), Swift.abs(y))
            for _ in 0..<levels {
                for p in 0..<points { grid += [x / m * Float(p + 1), y / m * Float(p + 1)] }
            }
        }
        return Tensor(grid, shape: [grid.count])
    }

    /// query [B, Q, C]; referencePoints [B, Q, L, 2], (x, y) in [0, 1] of each level (padding
    /// included); input [B, S, C], the levels' maps flattened (`spatialShapes` (h_l, w_l), level l
    /// starting at `levelStartIndex[l]`); paddingMask [B, S], true on padding (its values are
    /// zeroed). Returns [B, Q, C].
    public func callAsFunction(query: Tensor, referencePoints: Tensor, input: Tensor, spatialShapes: [(height: Int, width: Int)],
                               levelStartIndex: [Int], paddingMask: BoolTensor? = nil) -> Tensor {
        let b = query.shape[0], q = query.shape[1], s = input.shape[1]
        precondition(query.shape == [b, q, dModel] && input.shape == [b, s, dModel] && referencePoints.shape == [b, q, levels, 2]
                     && spatialShapes.count == levels,
                     "MSDeformAttn: query \(query.shape), reference points \(referencePoints.shape), input \(input.shape), \(spatialShapes.count) levels")
        var value = valueProj(input)  // [B, S, C]
        if let paddingMask {
            precondition(paddingMask.shape == [b, s], "MSDeformAttn: padding mask \(paddingMask.shape) for input \(input.shape)")
            value = value.maskedFill(paddingMask.reshaped([b, s, 1]), 0)
        }
        let perHead = value.reshape([b, s, heads, dModel / heads])  // [B, S, H, D]
        let offsets = samplingOffsets(query).reshape([b, q, heads, levels, points, 2])
        let logits = attentionWeights(query).reshape([b, q, heads, levels * points])
        let weights = logits.softmax(axis: -1).reshape([b, q, heads, levels, points])
        // Offsets are in pixels of each level: divided by (w_l, h_l).
        let normalizer = Tensor(spatialShapes.flatMap { [Float($0.width), Float($0.height)] }, shape: [1, 1, 1, levels, 1, 2])
        let locations = referencePoints.reshape([b, q, 1, levels, 1, 2]) + offsets / normalizer  // [B, Q, H, L, P, 2]
        let out = Tensor.msDeformAttn(value: perHead, spatialShapes: spatialShapes, levelStartIndex: levelStartIndex,
                                      samplingLocations: locations, attentionWeights: weights, backend: backend)  // [B, Q, C]
        return outputProj(out)
    }

    public func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
        visitChild(samplingOffsets, "sampling_offsets", prefix, body)
        visitChild(attentionWeights, "attention_weights", prefix, body)
        visitChild(valueProj, "value_proj", prefix, body)
        visitChild(outputProj, "output_proj", prefix, body)
    }
}
