/// Named transform pipelines (before normalisation, which the loader applies last).
public enum Preset: String, Sendable, CaseIterable {
    /// DETR's `make_coco_transforms`: train = flip, then either a multi-scale resize
    /// (480..800 step 32, max 1333) or resize 400/500/600, crop 384..600, multi-scale resize;
    /// val = shorter side 800, max 1333.
    case detr
    /// The detr-pytorch reference: train = scale/aspect jitter pasted onto an 800x800 grey
    /// canvas, flip, HSV jitter, boxes of at most 1 pixel dropped; val = letterbox 800x800.
    case reference
    /// No geometric or colour change.
    case none

    public static let detrScales = Array(stride(from: 480, through: 800, by: 32))

    public func train(inputSize: Int = 800) -> any Transform {
        switch self {
        case .detr:
            return Compose([
                RandomHorizontalFlip(p: 0.5),
                RandomSelect(
                    RandomResize(Self.detrScales, maxSize: 1333),
                    Compose([RandomResize([400, 500, 600]), RandomSizeCrop(384, 600), RandomResize(Self.detrScales, maxSize: 1333)])),
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
        }
    }

    public func validation(inputSize: Int = 800) -> any Transform {
        switch self {
        case .detr: return RandomResize([800], maxSize: 1333)
        case .reference: return Compose([Letterbox(width: inputSize, height: inputSize), DropSmallBoxes(minSize: 1)])
        case .none: return Identity()
        }
    }
}
