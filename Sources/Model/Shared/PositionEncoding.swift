import Base
import Foundation
import NN
import Tensor

/// DETR's position encodings of a feature map, given its padding mask [B, h, w].
public enum PositionEncodingKind: String, Sendable, Codable {
    case sine, learned
}

/// The sine encoding (DETR's PositionEmbeddingSine with normalize=True): cumulative counts of
/// non-padded cells along y and x, normalised to [0, 2pi] by the last count, then sin/cos at
/// `numPosFeats` frequencies temperature^(2 floor(i/2) / numPosFeats). Output [B, 2F, h, w],
/// y features first. No parameters.
public struct SinePositionEncoding: Sendable {
    public var numPosFeats: Int
    public var temperature: Float = 10000
    public var normalize = true
    public var scale: Float = 2 * .pi

    public init(numPosFeats: Int) {
        self.numPosFeats = numPosFeats
    }

    public func callAsFunction(mask: BoolTensor) -> Tensor {
        let b = mask.shape[0], h = mask.shape[1], w = mask.shape[2]
        let f = numPosFeats
        var yEmbed = [Float](repeating: 0, count: b * h * w), xEmbed = yEmbed
        for n in 0..<b {
            for x in 0..<w {
                var c: Float = 0
                for y in 0..<h {
                    if !mask.values[(n * h + y) * w + x] { c += 1 }
                    yEmbed[(n * h + y) * w + x] = c
                }
            }
            for y in 0..<h {
                var c: Float = 0
                for x in 0..<w {
                    if !mask.values[(n * h + y) * w + x] { c += 1 }
                    xEmbed[(n * h + y) * w + x] = c
                }
            }
        }
        if normalize {
            let eps: Float = 1e-6
            for n in 0..<b {
                for y in 0..<h {
                    for x in 0..<w {
                        let i = (n * h + y) * w + x
                        yEmbed[i] = yEmbed[i] / (yEmbed[(n * h + h - 1) * w + x] + eps) * scale
                        xEmbed[i] = xEmbed[i] / (xEmbed[(n * h + y) * w + w - 1] + eps) * scale
                    }
                }
            }
        }
        let dimT = (0..<f).map { Foundation.pow(temperature, 2 * Float($0 / 2) / Float(f)) }
        let out = Tensor.empty([b, 2 * f, h, w])
        let plane = h * w
        for n in 0..<b {
            for k in 0..<f {
                let yDst = out.data + (n * 2 * f + k) * plane
                let xDst = out.data + (n * 2 * f + f + k) * plane
                for i in 0..<plane {
                    let vy = yEmbed[n * plane + i] / dimT[k], vx = xEmbed[n * plane + i] / dimT[k]
                    yDst[i] = k % 2 == 0 ? Foundation.sin(vy) : Foundation.cos(vy)
                    xDst[i] = k % 2 == 0 ? Foundation.sin(vx) : Foundation.cos(vx)
                }
            }
        }
        return out
    }
}

/// DETR's PositionEmbeddingLearned: row and column embeddings of 50 positions each
/// (keys `row_embed.weight`, `col_embed.weight`), uniform init; output [B, 2F, h, w] with the
/// column features first.
public final class LearnedPositionEncoding: Module {
    public let rowEmbed: Embedding
    public let colEmbed: Embedding

    public init(numPosFeats: Int, using rng: inout SplitMix64) {
        rowEmbed = Embedding(50, numPosFeats, using: &rng)
        colEmbed = Embedding(50, numPosFeats, using: &rng)
        rowEmbed.weight.assign(Tensor.uniform([50, numPosFeats], using: &rng))
        colEmbed.weight.assign(Tensor.uniform([50, numPosFeats], using: &rng))
    }

    public func callAsFunction(batch b: Int, height h: Int, width w: Int) -> Tensor {
        precondition(h <= 50 && w <= 50, "learned position encoding covers at most 50x50 cells, got \(h)x\(w)")
        let f = rowEmbed.weight.shape[1]
        let xEmb = colEmbed(IntTensor(Array(0..<w)))  // [w, F]
        let yEmb = rowEmbed(IntTensor(Array(0..<h)))  // [h, F]
        let pos = Tensor.cat([xEmb.unsqueeze(0).expand([h, w, f]), yEmb.unsqueeze(1).expand([h, w, f])], axis: 2)  // [h, w, 2F]
        return pos.permute([2, 0, 1]).unsqueeze(0).expand([b, 2 * f, h, w])
    }

    public func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
        visitChild(rowEmbed, "row_embed", prefix, body)
        visitChild(colEmbed, "col_embed", prefix, body)
    }
}
