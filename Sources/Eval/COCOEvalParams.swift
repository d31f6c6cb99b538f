import Datasets

/// What COCOeval compares: boxes or masks.
public enum COCOIoUType: String, Sendable, CaseIterable {
    case bbox
    case segm
}

/// An area range of COCOeval (`areaRng` with its label `areaRngLbl`), in square pixels.
public struct COCOAreaRange: Equatable, Sendable {
    public var label: String
    public var min: Double
    public var max: Double

    public init(label: String, min: Double, max: Double) {
        self.label = label
        self.min = min
        self.max = max
    }
}

/// pycocotools' `Params` for bbox / segm, with its defaults.
public struct COCOEvalParams: Equatable, Sendable {
    public var iouType: COCOIoUType
    /// The images evaluated; nil: every image of the ground truth. Sorted and de-duplicated
    /// before use, as pycocotools does.
    public var imageIds: [Int64]?
    /// The categories evaluated; nil: every category of the ground truth (sorted).
    public var categoryIds: [Int64]?
    /// false: categories are ignored (every detection may match every ground truth of its image).
    public var useCats: Bool = true
    public var iouThresholds: [Double] = COCOEvalParams.linspace(0.5, 0.95, 10)
    public var recallThresholds: [Double] = COCOEvalParams.linspace(0.0, 1.0, 101)
    /// Sorted before use (as COCOeval.evaluate does); the largest bounds the detections kept per
    /// image and category.
    public var maxDets: [Int] = [1, 10, 100]
    public var areaRanges: [COCOAreaRange] = [
        COCOAreaRange(label: "all", min: 0, max: 1e10),
        COCOAreaRange(label: "small", min: 0, max: 1024),
        COCOAreaRange(label: "medium", min: 1024, max: 9216),
        COCOAreaRange(label: "large", min: 9216, max: 1e10),
    ]

    public init(iouType: COCOIoUType) {
        self.iouType = iouType
    }

    /// numpy's `linspace(start, stop, num)` bit for bit: `i * step + start`, the last value `stop`.
    /// (pycocotools' thresholds come from it; `0.75` must be found by `==` in summarize.)
    public static func linspace(_ start: Double, _ stop: Double, _ num: Int) -> [Double] {
        guard num > 1 else { return num == 1 ? [start] : [] }
        let step = (stop - start) / Double(num - 1)
        var out = (0..<num).map { Double($0) * step + start }
        out[num - 1] = stop
        return out
    }
}

/// Problems found while preparing an evaluation (bad segmentations, missing fields).
public enum COCOEvalError: Error, Equatable, CustomStringConvertible, Sendable {
    case missingField(what: String, index: Int, field: String)
    case badSegmentation(what: String, index: Int, reason: String)
    case invalidParameters(String)

    public var description: String {
        switch self {
        case let .missingField(what, index, field): return "\(what) \(index): no \(field)"
        case let .badSegmentation(what, index, reason): return "\(what) \(index): bad segmentation: \(reason)"
        case let .invalidParameters(reason): return "invalid COCOeval parameters: \(reason)"
        }
    }
}
