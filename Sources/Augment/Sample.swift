import Datasets

/// A box in absolute pixel coordinates `xyxy` (Float, as DETR's target tensors).
public struct Box: Equatable, Hashable, Sendable {
    public var x1: Float
    public var y1: Float
    public var x2: Float
    public var y2: Float

    public init(_ x1: Float, _ y1: Float, _ x2: Float, _ y2: Float) {
        self.x1 = x1
        self.y1 = y1
        self.x2 = x2
        self.y2 = y2
    }

    public init(_ b: PixelBox) {
        self.init(Float(b.xmin), Float(b.ymin), Float(b.xmax), Float(b.ymax))
    }

    public var width: Float { x2 - x1 }
    public var height: Float { y2 - y1 }
    public var area: Float { max(0, width) * max(0, height) }
    /// Both sides are positive (DETR keeps a box only when `x2 > x1 && y2 > y1`).
    public var hasPositiveSize: Bool { x2 > x1 && y2 > y1 }
}

/// What travels with an image through the transforms: per-object boxes, labels, areas, crowd
/// flags and (optionally) masks, kept consistent by every transform (DETR's `target` dict).
public struct Target: Equatable, Sendable {
    /// Absolute `xyxy` pixels of the current image.
    public var boxes: [Box]
    /// Class ids 0..C-1 (classes-file order, or COCO categories mapped to contiguous ids).
    public var labels: [Int]
    /// Areas in pixels of the current image (the box area, or COCO's segment area, scaled).
    public var areas: [Float]
    public var isCrowd: [Bool]
    /// Optional instance masks at the current image size.
    public var masks: MaskStack?
    /// The data set's index of the image (COCO image id, or the position in the list).
    public var imageId: Int64
    /// The image size when loaded, `(height, width)`.
    public var originalSize: (height: Int, width: Int)

    public init(boxes: [Box], labels: [Int], areas: [Float]? = nil, isCrowd: [Bool]? = nil, masks: MaskStack? = nil,
                imageId: Int64 = 0, originalSize: (height: Int, width: Int) = (0, 0)) {
        self.boxes = boxes
        self.labels = labels
        self.areas = areas ?? boxes.map(\.area)
        self.isCrowd = isCrowd ?? [Bool](repeating: false, count: boxes.count)
        self.masks = masks
        self.imageId = imageId
        self.originalSize = originalSize
    }

    public var count: Int { boxes.count }

    /// The objects at indices `keep`, in that order, with every field kept consistent.
    public func selecting(_ keep: [Int]) -> Target {
        var t = self
        t.boxes = keep.map { boxes[$0] }
        t.labels = keep.map { labels[$0] }
        t.areas = keep.map { areas[$0] }
        t.isCrowd = keep.map { isCrowd[$0] }
        t.masks = masks?.selecting(keep)
        return t
    }

    /// Drops objects whose box has zero (or negative) width or height, as DETR's data set does.
    public func droppingEmptyBoxes() -> Target {
        let keep = boxes.indices.filter { boxes[$0].hasPositiveSize }
        return keep.count == boxes.count ? self : selecting(keep)
    }

    public static func == (a: Target, b: Target) -> Bool {
        a.boxes == b.boxes && a.labels == b.labels && a.areas == b.areas && a.isCrowd == b.isCrowd
            && a.masks == b.masks && a.imageId == b.imageId && a.originalSize == b.originalSize
    }
}

/// An image with its target: what every transform maps to a new one.
public struct Sample: Equatable, Sendable {
    public var image: RGBImage
    public var target: Target
    /// The file the image came from (for error messages).
    public var path: String

    public init(image: RGBImage, target: Target, path: String = "") {
        self.image = image
        self.target = target
        self.path = path
    }
}
