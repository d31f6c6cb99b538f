import Datasets
import Tensor

/// The target as the model sees it: boxes normalised `cxcywh` in [0, 1] relative to the
/// unpadded image (DETR's target after `Normalize`), beside the transformed target they come
/// from (labels, areas, crowd flags, masks, image id and original size).
public struct ModelTarget: Equatable, Sendable {
    /// `[count][4]` flattened: `cx, cy, w, h` divided by the image width and height.
    public var boxes: [Float]
    /// The target after the transforms, boxes in pixels.
    public var source: Target
    /// `(height, width)` after the transforms (before batching pads it).
    public var size: (height: Int, width: Int)

    public var labels: [Int] { source.labels }
    public var count: Int { source.count }

    public static func == (a: ModelTarget, b: ModelTarget) -> Bool {
        a.boxes == b.boxes && a.source == b.source && a.size == b.size
    }
}

/// A transformed sample ready for batching: a `[3, H, W]` Float image and its model target.
public struct TensorSample: Sendable {
    public var image: Tensor
    public var target: ModelTarget
    public var path: String
}

/// `ToTensor` + `Normalize(mean, std)` + boxes to normalised `cxcywh`.
public struct Normalization: Equatable, Sendable {
    public var mean: (Float, Float, Float)
    public var std: (Float, Float, Float)

    /// ImageNet statistics (DETR's and the reference's).
    public static let imageNet = Normalization(mean: (0.485, 0.456, 0.406), std: (0.229, 0.224, 0.225))

    public init(mean: (Float, Float, Float), std: (Float, Float, Float)) {
        self.mean = mean
        self.std = std
    }

    public static func == (a: Normalization, b: Normalization) -> Bool {
        a.mean == b.mean && a.std == b.std
    }

    /// The 256 values of each channel: `(x / 255 - mean) / std` in Float, as torchvision's
    /// `to_tensor` then `normalize` compute them.
    func tables() -> [[Float]] {
        let m = [mean.0, mean.1, mean.2], s = [std.0, std.1, std.2]
        return (0..<3).map { c in (0..<256).map { (Float($0) / 255 - m[c]) / s[c] } }
    }

    /// The image as `[3, H, W]` normalised floats and the boxes as normalised `cxcywh`.
    public func callAsFunction(_ sample: Sample) -> TensorSample {
        let img = sample.image
        let t = Tensor.empty([3, img.height, img.width])
        write(img, into: t.data, paddedHeight: img.height, paddedWidth: img.width)
        return TensorSample(image: t, target: target(sample), path: sample.path)
    }

    /// Writes the normalised `[3, H, W]` planes of `image` into `dst`, laid out as
    /// `[3, paddedHeight, paddedWidth]` with zeros right of and below the image.
    func write(_ image: RGBImage, into dst: UnsafeMutablePointer<Float>, paddedHeight hp: Int, paddedWidth wp: Int) {
        let w = image.width, h = image.height
        guard w > 0, h > 0 else {
            dst.update(repeating: 0, count: 3 * hp * wp)
            return
        }
        let lut = tables()
        let plane = hp * wp
        lut[0].withUnsafeBufferPointer { t0 in
            lut[1].withUnsafeBufferPointer { t1 in
                lut[2].withUnsafeBufferPointer { t2 in
                    image.pixels.withUnsafeBufferPointer { src in
                        for y in 0..<h {
                            let r = dst + y * wp, g = r + plane, b = g + plane
                            var s = src.baseAddress! + y * w * 3
                            for x in 0..<w {
                                r[x] = t0[Int(s[0])]
                                g[x] = t1[Int(s[1])]
                                b[x] = t2[Int(s[2])]
                                s += 3
                            }
                            if wp > w {
                                (r + w).update(repeating: 0, count: wp - w)
                                (g + w).update(repeating: 0, count: wp - w)
                                (b + w).update(repeating: 0, count: wp - w)
                            }
                        }
                    }
                }
            }
        }
        if hp > h {
            for c in 0..<3 { (dst + c * plane + h * wp).update(repeating: 0, count: (hp - h) * wp) }
        }
    }

    /// The model target: boxes as `cxcywh` divided by the image's width and height.
    public func target(_ sample: Sample) -> ModelTarget {
        let fw = Float(sample.image.width), fh = Float(sample.image.height)
        var boxes = [Float]()
        boxes.reserveCapacity(sample.target.count * 4)
        for b in sample.target.boxes {
            boxes.append((b.x1 + b.x2) / 2 / fw)
            boxes.append((b.y1 + b.y2) / 2 / fh)
            boxes.append((b.x2 - b.x1) / fw)
            boxes.append((b.y2 - b.y1) / fh)
        }
        return ModelTarget(boxes: boxes, source: sample.target, size: (sample.image.height, sample.image.width))
    }
}
