/// Named transform pipelines (before normalisation, which the loader applies last).
public enum Preset: String, Sendable, CaseIterable {
    /// DETR's `make_coco_transforms`: train = flip, then either a multi-scale resize
    /// (480..800 step 32, max 1333) or resize 400/500/600, crop 384..600, multi-scale resize;
    /// val = shorter side 800, max 1333 (every size scaled by `inputSize / 800` for another input size).
    case detr
    /// The detr-pytorch reference: train = scale/aspect jitter pasted onto an 800x800 grey
    /// canvas, flip, HSV jitter, boxes of at most 1 pixel dropped; val = letterbox 800x800.
    case reference
    /// No geometric or colour change.
    case none
    /// Horizontal flips only, images at their own size (the small-data recipe of the demo).
    case flip

    public static let detrScales = Array(stride(from: 480, through: 800, by: 32))

    /// DETR's scales for an input size other than 800: each scaled by `inputSize / 800`.
    public static func detrScales(forInputSize n: Int) -> [Int] {
        n == 800 ? detrScales : detrScales.map { max(1, Int((Double($0) * Double(n) / 800).rounded())) }
    }

    /// DETR's longer-side limit (1333 at 800) for an input size.
    public static func maxSize(forInputSize n: Int) -> Int {
        n == 800 ? 1333 : max(n, Int((1333 * Double(n) / 800).rounded()))
    }

    /// `x` scaled by `inputSize / 800` (the crop and pre-crop sizes of DETR's recipe).
    static func scaled(_ xs: [Int], _ n: Int) -> [Int] {
        n == 800 ? xs : xs.map { max(1, Int((Double($0) * Double(n) / 800).rounded())) }
    }

    public func train(inputSize: Int = 800) -> any Transform {
        switch self {
        case .detr:
            return Compose([
                RandomHorizontalFlip(p: 0.5),
                RandomSelect(
                    RandomResize(Self.detrScales(forInputSize: inputSize), maxSize: Self.maxSize(forInputSize: inputSize)),
                    Compose([RandomResize(Self.scaled([400, 500, 600], inputSize)),
                             RandomSizeCrop(Self.scaled([384], inputSize)[0], Self.scaled([600], inputSize)[0]),
                             RandomResize(Self.detrScales(forInputSize: inputSize), maxSize: Self.maxSize(forInputSize: inputSize))])),
            ])
        case .reference:
            return Compose([
                RandomScaleJitter(width: inputSize, height: inputSize),
                RandomHorizontalFlip(p: 0.5),
                RandomHSV(),
                DropSmallBoxes(minSize: 1),
            ])
        case .none:
            return Identity()
        case .flip:
            return RandomHorizontalFlip(p: 0.5)
        }
    }

    public func validation(inputSize: Int = 800) -> any Transform {
        switch self {
        case .detr: return RandomResize([inputSize], maxSize: Self.maxSize(forInputSize: inputSize))
        case .reference: return Compose([Letterbox(width: inputSize, height: inputSize), DropSmallBoxes(minSize: 1)])
        case .none, .flip: return Identity()
        }
    }
}
