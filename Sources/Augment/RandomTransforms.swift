import Base
import Datasets
import Tensor

/// A transform of (image, target). Random ones draw from the generator passed in, and only
/// from it, so that a sample's result depends on its generator alone.
public protocol Transform: Sendable {
    func apply(_ sample: Sample, using rng: inout SplitMix64) throws -> Sample
}

/// Applies transforms in order (DETR's `Compose`).
public struct Compose: Transform {
    public var transforms: [any Transform]

    public init(_ transforms: [any Transform]) {
        self.transforms = transforms
    }

    public func apply(_ sample: Sample, using rng: inout SplitMix64) throws -> Sample {
        var s = sample
        for t in transforms { s = try t.apply(s, using: &rng) }
        return s
    }
}

/// Flips left-right with probability `p` (one uniform draw per call).
public struct RandomHorizontalFlip: Transform {
    public var p: Double

    public init(p: Double = 0.5) {
        self.p = p
    }

    public func apply(_ sample: Sample, using rng: inout SplitMix64) throws -> Sample {
        rng.nextDouble() < p ? Functional.hflip(sample) : sample
    }
}

/// Resizes the shorter side to a size picked uniformly from `sizes`, the longer side capped at
/// `maxSize` (DETR's `RandomResize`).
public struct RandomResize: Transform {
    public var sizes: [Int]
    public var maxSize: Int?
    public var filter: ResampleFilter

    public init(_ sizes: [Int], maxSize: Int? = nil, filter: ResampleFilter = .bilinear) {
        precondition(!sizes.isEmpty && sizes.allSatisfy { $0 > 0 }, "RandomResize needs positive sizes")
        self.sizes = sizes
        self.maxSize = maxSize
        self.filter = filter
    }

    public func apply(_ sample: Sample, using rng: inout SplitMix64) throws -> Sample {
        let size = sizes[rng.nextInt(below: sizes.count)]
        return Functional.resize(sample, shorterSide: size, maxSize: maxSize, filter: filter)
    }
}

/// Crops a random region whose width and height are drawn uniformly from
/// `minSize ... min(side, maxSize)`, at a uniformly random position (DETR's `RandomSizeCrop`;
/// a side shorter than `minSize` is kept whole instead of failing as `random.randint` would).
public struct RandomSizeCrop: Transform {
    public var minSize: Int
    public var maxSize: Int

    public init(_ minSize: Int, _ maxSize: Int) {
        precondition(minSize > 0 && maxSize >= minSize, "RandomSizeCrop needs 0 < min <= max")
        self.minSize = minSize
        self.maxSize = maxSize
    }

    static func randint(_ lo: Int, _ hi: Int, _ rng: inout SplitMix64) -> Int {
        hi <= lo ? hi : lo + rng.nextInt(below: hi - lo + 1)
    }

    public func apply(_ sample: Sample, using rng: inout SplitMix64) throws -> Sample {
        let iw = sample.image.width, ih = sample.image.height
        let w = Self.randint(min(minSize, iw), min(iw, maxSize), &rng)
        let h = Self.randint(min(minSize, ih), min(ih, maxSize), &rng)
        let top = Self.randint(0, ih - h, &rng)
        let left = Self.randint(0, iw - w, &rng)
        return Functional.crop(sample, top: top, left: left, height: h, width: w)
    }
}

/// Applies `first` with probability `p`, otherwise `second` (DETR's `RandomSelect`).
public struct RandomSelect: Transform {
    public var first: any Transform
    public var second: any Transform
    public var p: Double

    public init(_ first: any Transform, _ second: any Transform, p: Double = 0.5) {
        self.first = first
        self.second = second
        self.p = p
    }

    public func apply(_ sample: Sample, using rng: inout SplitMix64) throws -> Sample {
        rng.nextDouble() < p ? try first.apply(sample, using: &rng) : try second.apply(sample, using: &rng)
    }
}

/// Resizes to a fixed `width x height` (no randomness).
public struct Resize: Transform {
    public var width: Int
    public var height: Int
    public var filter: ResampleFilter

    public init(width: Int, height: Int, filter: ResampleFilter = .bilinear) {
        self.width = width
        self.height = height
        self.filter = filter
    }

    public func apply(_ sample: Sample, using rng: inout SplitMix64) throws -> Sample {
        Functional.resize(sample, height: height, width: width, filter: filter)
    }
}

/// Letterbox onto grey 128 (the reference's validation transform; boxes truncated to whole
/// pixels as the reference's int arrays do, unless `integerBoxes` is false).
public struct Letterbox: Transform {
    public var width: Int
    public var height: Int
    public var integerBoxes: Bool

    public init(width: Int, height: Int, integerBoxes: Bool = true) {
        self.width = width
        self.height = height
        self.integerBoxes = integerBoxes
    }

    public func apply(_ sample: Sample, using rng: inout SplitMix64) throws -> Sample {
        Functional.letterbox(sample, width: width, height: height, integerBoxes: integerBoxes)
    }
}

/// The reference training script's geometric jitter (`get_random_data` with `random=True`):
/// aspect ratio `iw/ih * U(1-j, 1+j) / U(1-j, 1+j)`, scale `U(0.25, 2)` of the output size,
/// bicubic resize, pasted at a random offset `int(U(0, W - nw))`, `int(U(0, H - nh))` onto a
/// grey `width x height` canvas (parts may fall outside it). Boxes are truncated to whole
/// pixels as the reference's int arrays do, unless `integerBoxes` is false.
public struct RandomScaleJitter: Transform {
    public var width: Int
    public var height: Int
    public var jitter: Double
    public var scaleRange: ClosedRange<Double>
    public var integerBoxes: Bool

    public init(width: Int, height: Int, jitter: Double = 0.3, scaleRange: ClosedRange<Double> = 0.25...2,
                integerBoxes: Bool = true) {
        self.width = width
        self.height = height
        self.jitter = jitter
        self.scaleRange = scaleRange
        self.integerBoxes = integerBoxes
    }

    static func uniform(_ a: Double, _ b: Double, _ rng: inout SplitMix64) -> Double {
        rng.nextDouble() * (b - a) + a
    }

    public func apply(_ sample: Sample, using rng: inout SplitMix64) throws -> Sample {
        let iw = Double(max(sample.image.width, 1)), ih = Double(max(sample.image.height, 1))
        let num = Self.uniform(1 - jitter, 1 + jitter, &rng)
        let den = Self.uniform(1 - jitter, 1 + jitter, &rng)
        let aspect = iw / ih * num / den
        let scale = Self.uniform(scaleRange.lowerBound, scaleRange.upperBound, &rng)
        var nw: Int, nh: Int
        if aspect < 1 {
            nh = Int(scale * Double(height))
            nw = Int(Double(nh) * aspect)
        } else {
            nw = Int(scale * Double(width))
            nh = Int(Double(nw) / aspect)
        }
        nw = max(1, nw)
        nh = max(1, nh)
        let dx = Int(Self.uniform(0, Double(width - nw), &rng))
        let dy = Int(Self.uniform(0, Double(height - nh), &rng))
        return Functional.resizeAndPaste(sample, width: nw, height: nh, x: dx, y: dy, canvasWidth: width, canvasHeight: height,
                                         integerBoxes: integerBoxes)
    }
}

/// HSV colour jitter with gains `1 + U(-1, 1) * (hue, saturation, value)` (the reference's
/// defaults 0.1, 0.7, 0.4).
public struct RandomHSV: Transform {
    public var hue: Double
    public var saturation: Double
    public var value: Double

    public init(hue: Double = 0.1, saturation: Double = 0.7, value: Double = 0.4) {
        self.hue = hue
        self.saturation = saturation
        self.value = value
    }

    public func apply(_ sample: Sample, using rng: inout SplitMix64) throws -> Sample {
        let gh = (rng.nextDouble() * 2 - 1) * hue + 1
        let gs = (rng.nextDouble() * 2 - 1) * saturation + 1
        let gv = (rng.nextDouble() * 2 - 1) * value + 1
        var out = sample
        out.image = HSVJitter.apply(sample.image, gains: (gh, gs, gv))
        return out
    }
}

/// Drops objects whose box is not wider and taller than `minSize` pixels (the reference keeps
/// `w > 1 and h > 1`; `minSize` 0 is DETR's rule of positive width and height).
public struct DropSmallBoxes: Transform {
    public var minSize: Float

    public init(minSize: Float = 0) {
        self.minSize = minSize
    }

    public func apply(_ sample: Sample, using rng: inout SplitMix64) throws -> Sample {
        var out = sample
        let keep = sample.target.boxes.indices.filter { sample.target.boxes[$0].width > minSize && sample.target.boxes[$0].height > minSize }
        if keep.count != sample.target.count { out.target = sample.target.selecting(keep) }
        return out
    }
}

/// Leaves the sample as it is.
public struct Identity: Transform {
    public init() {}
    public func apply(_ sample: Sample, using rng: inout SplitMix64) throws -> Sample { sample }
}
