/// A COCO JSON problem: the file and where in it (a JSON path such as `annotations[12].bbox`
/// or a result index), what was wrong.
public enum COCOError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The file could not be read or is not JSON.
    case unreadable(path: String, reason: String)
    /// The file is not well-formed JSON (the error carries the line and byte offset).
    case malformedJSON(JSONError)
    /// A field is missing or has the wrong type or value.
    case invalidField(path: String, field: String, reason: String)
    /// Result number `index` (0-based, in file order) cannot be evaluated.
    case invalidResult(path: String, index: Int, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "\(path): \(reason)"
        case let .malformedJSON(e): return e.description
        case let .invalidField(path, field, reason): return "\(path): \(field): \(reason)"
        case let .invalidResult(path, index, reason): return "\(path): result \(index): \(reason)"
        }
    }

    public var path: String {
        switch self {
        case let .unreadable(path, _), let .invalidField(path, _, _), let .invalidResult(path, _, _): return path
        case let .malformedJSON(e): return e.path
        }
    }
}

/// A COCO box `[x, y, width, height]` in pixels (top-left corner, no +1).
public struct COCOBox: Equatable, Sendable {
    public var x: Double
    public var y: Double
    public var width: Double
    public var height: Double

    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    /// Absolute `xyxy` corners.
    public var xyxy: (Double, Double, Double, Double) { (x, y, x + width, y + height) }
}

/// A segmentation as written in the JSON; Eval turns it into a run-length mask.
public enum COCOSegmentation: Equatable, Sendable {
    /// One or more polygons `[x0, y0, x1, y1, ...]`.
    case polygons([[Double]])
    /// `{"size": [h, w], "counts": [n0, n1, ...]}`: column-major run lengths, starting with zeros.
    case uncompressedRLE(height: Int, width: Int, counts: [UInt32])
    /// `{"size": [h, w], "counts": "..."}`: pycocotools' compressed string (ASCII bytes).
    case compressedRLE(height: Int, width: Int, counts: [UInt8])
}

public struct COCOImage: Equatable, Sendable {
    public var id: Int64
    public var width: Int
    public var height: Int
    public var fileName: String

    public init(id: Int64, width: Int, height: Int, fileName: String) {
        self.id = id
        self.width = width
        self.height = height
        self.fileName = fileName
    }
}

public struct COCOCategory: Equatable, Sendable {
    public var id: Int64
    public var name: String
    public var supercategory: String

    public init(id: Int64, name: String, supercategory: String = "") {
        self.id = id
        self.name = name
        self.supercategory = supercategory
    }
}

/// A ground-truth annotation of an instances file.
public struct COCOAnnotation: Equatable, Sendable {
    public var id: Int64
    public var imageId: Int64
    public var categoryId: Int64
    public var bbox: COCOBox?
    /// The `area` field (COCOeval's area ranges use it, not the box or the mask).
    public var area: Double?
    public var isCrowd: Bool
    public var segmentation: COCOSegmentation?

    public init(id: Int64, imageId: Int64, categoryId: Int64, bbox: COCOBox?, area: Double?, isCrowd: Bool = false,
                segmentation: COCOSegmentation? = nil) {
        self.id = id
        self.imageId = imageId
        self.categoryId = categoryId
        self.bbox = bbox
        self.area = area
        self.isCrowd = isCrowd
        self.segmentation = segmentation
    }
}

/// One detection of a results file.
public struct COCOResult: Equatable, Sendable {
    public var imageId: Int64
    public var categoryId: Int64
    public var bbox: COCOBox?
    public var segmentation: COCOSegmentation?
    public var score: Double

    public init(imageId: Int64, categoryId: Int64, bbox: COCOBox?, segmentation: COCOSegmentation? = nil, score: Double) {
        self.imageId = imageId
        self.categoryId = categoryId
        self.bbox = bbox
        self.segmentation = segmentation
        self.score = score
    }
}
