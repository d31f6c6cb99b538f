/// A COCO results file: a JSON list of `{image_id, category_id, bbox | segmentation, score}`,
/// read and checked against the ground truth it will be evaluated on.
///
/// Rules (pycocotools' `loadRes` refuses the first two with an assertion):
/// - an image id that is not in the ground truth, a NaN / infinite / negative-size box, a
///   missing score or a result with neither `bbox` nor `segmentation` is an error naming the
///   result's index; with `lenient` such results are skipped and counted instead;
/// - a category id that is not among the categories and a score outside [0, 1] are accepted
///   with a warning (pycocotools accepts them silently);
/// - ids written as numeric strings are converted with a warning.
public struct COCOResults: Equatable, Sendable {
    public var results: [COCOResult]
    /// Results skipped in lenient mode.
    public var skipped: Int
    public var warnings: [String]

    public init(results: [COCOResult], skipped: Int = 0, warnings: [String] = []) {
        self.results = results
        self.skipped = skipped
        self.warnings = warnings
    }

    /// Reads a results file (memory-mapped) for the ground truth `gt`.
    public static func load(_ path: String, groundTruth gt: COCOInstances, lenient: Bool = false) throws -> COCOResults {
        do {
            return try JSONScanner.withFile(path) { try parse(&$0, groundTruth: gt, lenient: lenient) }
        } catch let e as JSONError {
            throw COCOError.malformedJSON(e)
        }
    }

    public static func parse(_ bytes: [UInt8], path: String, groundTruth gt: COCOInstances, lenient: Bool = false) throws -> COCOResults {
        do {
            return try JSONScanner.withScanner(bytes, path: path) { try parse(&$0, groundTruth: gt, lenient: lenient) }
        } catch let e as JSONError {
            throw COCOError.malformedJSON(e)
        }
    }

    static func parse(_ s: inout JSONScanner, groundTruth gt: COCOInstances, lenient: Bool) throws -> COCOResults {
        let path = s.path
        let imageIds = Set(gt.images.map(\.id))
        let categoryIds = Set(gt.categories.map(\.id))
        var out = COCOResults(results: [])
        // A detection takes about 80-100 bytes of JSON: reserve once instead of regrowing.
        out.results.reserveCapacity(min(s.byteCount / 96, 20_000_000))
        var warnings = COCOWarnings()
        var unknownCategories: [Int64: Int] = [:]
        var badScores = 0
        guard s.peekKind() == .array else {
            throw COCOError.unreadable(path: path, reason: "a results file is a JSON list of detections")
        }
        try s.beginArray()
        var first = true
        var index = 0
        while try s.nextElement(first: &first) {
            defer { index += 1 }
            let r: COCOResult
            do {
                r = try readResult(&s, index: index, warnings: &warnings)
                try check(r, index: index, path: path, imageIds: imageIds)
            } catch let e as COCOError {
                guard lenient, case .invalidResult = e else { throw e }
                out.skipped += 1
                continue
            }
            if !categoryIds.contains(r.categoryId) { unknownCategories[r.categoryId, default: 0] += 1 }
            if !(r.score >= 0 && r.score <= 1) { badScores += 1 }
            out.results.append(r)
        }
        try s.expectEnd()
        for (id, n) in unknownCategories.sorted(by: { $0.key < $1.key }) {
            warnings.add("\(path): \(n) results with category_id \(id), which is not among the categories (never matched)")
        }
        if badScores > 0 { warnings.add("\(path): \(badScores) results with a score outside [0, 1] (accepted)") }
        if out.skipped > 0 { warnings.add("\(path): \(out.skipped) invalid results skipped (lenient)") }
        out.warnings = warnings.lines
        return out
    }

    static func check(_ r: COCOResult, index: Int, path: String, imageIds: Set<Int64>) throws {
        guard imageIds.contains(r.imageId) else {
            throw COCOError.invalidResult(path: path, index: index, reason: "image_id \(r.imageId) is not in the ground truth")
        }
        if let b = r.bbox {
            guard b.x.isFinite, b.y.isFinite, b.width.isFinite, b.height.isFinite else {
                throw COCOError.invalidResult(path: path, index: index, reason: "bbox [\(b.x), \(b.y), \(b.width), \(b.height)] is not finite")
            }
            guard b.width >= 0, b.height >= 0 else {
                throw COCOError.invalidResult(path: path, index: index, reason: "bbox [\(b.x), \(b.y), \(b.width), \(b.height)] has a negative size")
            }
        } else if r.segmentation == nil {
            throw COCOError.invalidResult(path: path, index: index, reason: "neither bbox nor segmentation")
        }
        guard !r.score.isNaN else { throw COCOError.invalidResult(path: path, index: index, reason: "score is NaN") }
    }

    static func readResult(_ s: inout JSONScanner, index: Int, warnings: inout COCOWarnings) throws -> COCOResult {
        func field() -> String { "[\(index)]" }
        guard s.peekKind() == .object else {
            throw COCOError.invalidResult(path: s.path, index: index, reason: "expected an object")
        }
        try s.beginObject()
        var r = COCOResult(imageId: 0, categoryId: 0, bbox: nil, score: .nan)
        var sawImage = false, sawCategory = false, sawScore = false
        var first = true
        while let key = try s.nextKey(first: &first) {
            if key.equals("bbox") {
                r.bbox = try COCOInstances.readBox(&s, field: field() + ".bbox")
            } else if key.equals("score") {
                r.score = try COCOInstances.readNumber(&s, field: field() + ".score")
                sawScore = true
            } else if key.equals("image_id") {
                r.imageId = try COCOInstances.readId(&s, field: field() + ".image_id", warnings: &warnings)
                sawImage = true
            } else if key.equals("category_id") {
                r.categoryId = try COCOInstances.readId(&s, field: field() + ".category_id", warnings: &warnings)
                sawCategory = true
            } else if key.equals("segmentation") {
                r.segmentation = try COCOInstances.readSegmentation(&s, field: field() + ".segmentation")
            } else {
                try s.skipValue()
            }
        }
        if !sawImage { throw COCOError.invalidResult(path: s.path, index: index, reason: "no image_id") }
        if !sawCategory { throw COCOError.invalidResult(path: s.path, index: index, reason: "no category_id") }
        if !sawScore { throw COCOError.invalidResult(path: s.path, index: index, reason: "no score") }
        return r
    }
}
