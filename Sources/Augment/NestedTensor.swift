import Datasets
import Tensor

/// Problems of batching.
public enum BatchError: Error, Equatable, CustomStringConvertible, Sendable {
    case empty
    case badImageShape(index: Int, shape: [Int])
    case badStride(Int)
    /// Some images of a batch carry masks and image `index` does not.
    case missingMasks(index: Int)
    /// Image `index`'s masks do not match its objects or its size.
    case badMasks(index: Int, reason: String)

    public var description: String {
        switch self {
        case .empty: return "cannot batch an empty list of images"
        case let .badImageShape(index, shape): return "image \(index) has shape \(shape); expected [C, H, W] with the batch's C"
        case let .badStride(s): return "padding stride must be positive, got \(s)"
        case let .missingMasks(index): return "image \(index) of the batch has no masks while others have"
        case let .badMasks(index, reason): return "image \(index) of the batch: \(reason)"
        }
    }
}

/// A batch of images of different sizes: zero-padded to the largest height and width (images
/// top-left) with a mask that is true on padding (DETR's `NestedTensor`).
public struct NestedTensor: Sendable {
    /// `[B, C, Hmax, Wmax]`.
    public let tensors: Tensor
    /// `[B, Hmax, Wmax]`, true where a pixel is padding.
    public let mask: BoolTensor

    public init(tensors: Tensor, mask: BoolTensor) {
        self.tensors = tensors
        self.mask = mask
    }

    /// Batches `[C, H, W]` images; with `stride > 1` the padded height and width are rounded
    /// up to a multiple of it.
    public static func batching(_ images: [Tensor], padToMultipleOf stride: Int = 1) throws -> NestedTensor {
        guard let first = images.first else { throw BatchError.empty }
        guard stride > 0 else { throw BatchError.badStride(stride) }
        guard first.rank == 3 else { throw BatchError.badImageShape(index: 0, shape: first.shape) }
        let c = first.shape[0]
        var hMax = 0, wMax = 0
        for (i, im) in images.enumerated() {
            guard im.rank == 3, im.shape[0] == c else { throw BatchError.badImageShape(index: i, shape: im.shape) }
            hMax = max(hMax, im.shape[1])
            wMax = max(wMax, im.shape[2])
        }
        hMax = (hMax + stride - 1) / stride * stride
        wMax = (wMax + stride - 1) / stride * stride
        let b = images.count
        let out = Tensor.zeros([b, c, hMax, wMax])
        var mask = [Bool](repeating: true, count: b * hMax * wMax)
        let dst = out.data
        for (i, im) in images.enumerated() {
            let h = im.shape[1], w = im.shape[2]
            let src = im.data
            for ch in 0..<c {
                for y in 0..<h {
                    (dst + ((i * c + ch) * hMax + y) * wMax).update(from: src + (ch * h + y) * w, count: w)
                }
            }
            for y in 0..<h {
                let base = (i * hMax + y) * wMax
                for x in 0..<w { mask[base + x] = false }
            }
        }
        return NestedTensor(tensors: out, mask: BoolTensor(mask, shape: [b, hMax, wMax]))
    }

    /// Normalises 8-bit images straight into one zero-padded batch (no per-image tensors).
    public static func batching(_ images: [RGBImage], normalization: Normalization, padToMultipleOf stride: Int = 1) throws -> NestedTensor {
        guard !images.isEmpty else { throw BatchError.empty }
        guard stride > 0 else { throw BatchError.badStride(stride) }
        var hMax = images.map(\.height).max()!, wMax = images.map(\.width).max()!
        hMax = (hMax + stride - 1) / stride * stride
        wMax = (wMax + stride - 1) / stride * stride
        let b = images.count, plane = hMax * wMax
        let out = Tensor.empty([b, 3, hMax, wMax])
        var mask = [Bool](repeating: true, count: b * plane)
        for (i, im) in images.enumerated() {
            normalization.write(im, into: out.data + i * 3 * plane, paddedHeight: hMax, paddedWidth: wMax)
            for y in 0..<im.height {
                let base = i * plane + y * wMax
                for x in 0..<im.width { mask[base + x] = false }
            }
        }
        return NestedTensor(tensors: out, mask: BoolTensor(mask, shape: [b, hMax, wMax]))
    }

    /// The batch zero-padded further to `height` x `width` (at least its own size): what a
    /// process of a data-parallel run holding part of a batch pads to, the whole batch's shape.
    public func padded(toHeight height: Int, width: Int) -> NestedTensor {
        let b = tensors.shape[0], c = tensors.shape[1], h = tensors.shape[2], w = tensors.shape[3]
        if height <= h && width <= w { return self }
        let hOut = Swift.max(height, h), wOut = Swift.max(width, w)
        let out = Tensor.zeros([b, c, hOut, wOut])
        var m = [Bool](repeating: true, count: b * hOut * wOut)
        let src = tensors.data, dst = out.data
        for plane in 0..<(b * c) {
            for y in 0..<h { (dst + (plane * hOut + y) * wOut).update(from: src + (plane * h + y) * w, count: w) }
        }
        let old = mask.values
        for i in 0..<b {
            for y in 0..<h {
                for x in 0..<w { m[(i * hOut + y) * wOut + x] = old[(i * h + y) * w + x] }
            }
        }
        return NestedTensor(tensors: out, mask: BoolTensor(m, shape: [b, hOut, wOut]))
    }

    /// The instance masks of a batch's images, each `[n_i, height, width]` (0 or 1 in Float) with
    /// image `i`'s masks top-left (where its pixels are in the batch) and zeros in the padding:
    /// what a mask criterion compares with. Nil when no image has masks (box-only data, nothing
    /// is allocated); an error when only some have, or when masks are larger than the batch or
    /// disagree with their image's object count.
    public static func paddedMasks(_ targets: [Target], height: Int, width: Int) throws -> [Tensor]? {
        guard targets.contains(where: { $0.masks != nil }) else { return nil }
        var out: [Tensor] = []
        out.reserveCapacity(targets.count)
        for (i, t) in targets.enumerated() {
            guard let m = t.masks else { throw BatchError.missingMasks(index: i) }
            guard m.count == t.count else {
                throw BatchError.badMasks(index: i, reason: "\(m.count) masks for \(t.count) objects")
            }
            guard m.height <= height, m.width <= width else {
                throw BatchError.badMasks(index: i, reason: "masks of \(m.height)x\(m.width) exceed the batch's \(height)x\(width)")
            }
            out.append(padded(m.values, count: m.count, height: m.height, width: m.width, toHeight: height, width: width))
        }
        return out
    }

    /// `[count, h, w]` bytes into a zero `[count, height, width]` Float tensor, top-left.
    static func padded(_ values: [UInt8], count: Int, height h: Int, width w: Int, toHeight height: Int, width: Int) -> Tensor {
        let t = Tensor.zeros([count, height, width])
        let dst = t.data
        values.withUnsafeBufferPointer { src in
            for k in 0..<count {
                for y in 0..<h {
                    let s = (k * h + y) * w, d = (k * height + y) * width
                    for x in 0..<w where src[s + x] != 0 { dst[d + x] = 1 }
                }
            }
        }
        return t
    }

    /// The padding mask at a feature map's size: nearest-neighbour as
    /// `F.interpolate(mask[None].float(), size=(height, width)).to(bool)[0]`
    /// (source index `min(floor(i * (in / out)), in - 1)`, scale in Float).
    public func mask(downsampledTo height: Int, _ width: Int) -> BoolTensor {
        let b = mask.shape[0], hIn = mask.shape[1], wIn = mask.shape[2]
        let sy = Float(hIn) / Float(max(height, 1)), sx = Float(wIn) / Float(max(width, 1))
        let xs = (0..<width).map { min(Int((Float($0) * sx).rounded(.down)), max(wIn - 1, 0)) }
        var out = [Bool](repeating: true, count: b * height * width)
        guard hIn > 0, wIn > 0 else { return BoolTensor(out, shape: [b, height, width]) }
        for i in 0..<b {
            for y in 0..<height {
                let syi = min(Int((Float(y) * sy).rounded(.down)), hIn - 1)
                let inBase = (i * hIn + syi) * wIn, outBase = (i * height + y) * width
                for x in 0..<width { out[outBase + x] = mask.values[inBase + xs[x]] }
            }
        }
        return BoolTensor(out, shape: [b, height, width])
    }
}
