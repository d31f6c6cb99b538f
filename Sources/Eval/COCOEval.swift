import Datasets

/// COCO detection evaluation with pycocotools' COCOeval semantics (evaluate + accumulate), for
/// iouType bbox and segm. `COCOEvalResult` holds `precision` / `recall` and summarizes them.
///
/// pycocotools behaviours matched on purpose (each is what makes the numbers identical):
/// - Results are read as `loadRes` does: the first result decides the branch. With a `bbox`
///   in the first result, every result's area is `w * h` and its mask (for segm) is its
///   `segmentation` if it has one, else its box as a polygon; otherwise masks come from the
///   segmentations, the area is the mask's pixel count and a missing box is the mask's box.
/// - Ground truth: `ignore` is `iscrowd` (an `ignore` key is overwritten by pycocotools); the
///   `area` field (not the box or mask) decides the area range; masks of polygons use the
///   image's size, RLE masks their own `size`.
/// - Detections per (image, category) are sorted by score with a stable sort (ties keep file
///   order; with useCats off, category order then file order) and cut at `maxDets.last`.
/// - Matching: for each IoU threshold, greedy by score; a detection takes the best-IoU ground
///   truth not yet taken (crowds can be taken many times), IoU >= min(t, 1 - 1e-10), and stops
///   at the first ignored ground truth once it holds a regular one.
/// - A detection matched to a ground truth whose id is 0 counts as unmatched (pycocotools
///   stores the matched id and tests it for truth); unmatched detections outside the area
///   range are ignored.
/// - accumulate: detections of all images pooled per category, stably sorted by score;
///   precision `tp / (tp + fp + eps)`, made non-increasing from the right, sampled at the 101
///   recall thresholds with `searchsorted(..., 'left')`; -1 where a category has no
///   non-ignored ground truth.
public struct COCOEvaluator: Sendable {
    public let params: COCOEvalParams
    let gt: COCOInstances
    let results: [COCOResult]

    // Prepared layout: buckets b = k * I + i (category index k, image index i); K = 1 when
    // useCats is off.
    let imageIds: [Int64]
    let categoryIds: [Int64]
    let imageSizes: [(height: Int, width: Int)]
    let I: Int
    let K: Int
    var gtStart: [Int] = []
    var gtIndex: [Int32] = []
    var dtStart: [Int] = []
    var dtIndex: [Int32] = []
    var dtScore: [Double] = []
    /// The `loadRes` branch: true when the first result has a box.
    let resultsAreBoxes: Bool
    var gtBoxes: [COCOBox] = []
    var gtAreas: [Double] = []
    var gtCrowd: [Bool] = []
    var gtIdZero: [Bool] = []
    /// Boxes of box results (loadRes' bbox branch), aligned with dtIndex.
    var dtBoxes: [COCOBox] = []

    public init(groundTruth: COCOInstances, results: [COCOResult], params: COCOEvalParams) throws {
        var params = params
        params.maxDets.sort()   // as COCOeval.evaluate does
        self.params = params
        self.gt = groundTruth
        self.results = results
        guard !params.iouThresholds.isEmpty, !params.recallThresholds.isEmpty, !params.maxDets.isEmpty, !params.areaRanges.isEmpty else {
            throw COCOEvalError.invalidParameters("thresholds, maxDets and area ranges must not be empty")
        }
        guard params.maxDets.allSatisfy({ $0 >= 0 }) else { throw COCOEvalError.invalidParameters("maxDets must be >= 0") }
        imageIds = Array(Set(params.imageIds ?? groundTruth.images.map(\.id))).sorted()
        categoryIds = Array(Set(params.categoryIds ?? groundTruth.categories.map(\.id))).sorted()
        var sizeOf: [Int64: (Int, Int)] = [:]
        for im in groundTruth.images { sizeOf[im.id] = (im.height, im.width) }
        imageSizes = imageIds.map { sizeOf[$0] ?? (0, 0) }
        I = imageIds.count
        K = params.useCats ? categoryIds.count : 1
        resultsAreBoxes = results.first?.bbox != nil
        guard categoryIds.count.multipliedReportingOverflow(by: I).partialValue < Int(Int32.max) / 2,
              !categoryIds.count.multipliedReportingOverflow(by: I).overflow else {
            throw COCOEvalError.invalidParameters("\(categoryIds.count) categories x \(I) images is too many (image, category) pairs")
        }
        try prepare()
    }

    /// Buckets ground truth and detections by (category, image), as COCOeval._prepare.
    mutating func prepare() throws {
        var imageIndex: [Int64: Int32] = [:]
        imageIndex.reserveCapacity(I)
        for (i, id) in imageIds.enumerated() { imageIndex[id] = Int32(i) }
        var catIndex: [Int64: Int32] = [:]
        for (k, id) in categoryIds.enumerated() { catIndex[id] = Int32(k) }
        let nCatBuckets = categoryIds.count * I
        let iouType = params.iouType

        // Ground truth, validated for the fields this iouType needs. pycocotools selects
        // annotations by their image and category, then reads them by id (loadAnns): an id that
        // repeats reads as the last annotation with that id (`loaded`), in that one's bucket.
        var lastWithId: [Int64: Int] = [:]
        for (n, a) in gt.annotations.enumerated() { lastWithId[a.id] = n }
        let loaded = gt.annotations.map { lastWithId[$0.id]! }
        var gtBucket = [Int32](repeating: -1, count: gt.annotations.count)
        for (n, selected) in gt.annotations.enumerated() {
            let a = gt.annotations[loaded[n]]
            guard imageIndex[selected.imageId] != nil, catIndex[selected.categoryId] != nil,
                  let i = imageIndex[a.imageId], let k = catIndex[a.categoryId] else { continue }
            if iouType == .bbox && a.bbox == nil { throw COCOEvalError.missingField(what: "ground-truth annotation", index: n, field: "bbox") }
            if iouType == .segm && a.segmentation == nil {
                throw COCOEvalError.missingField(what: "ground-truth annotation", index: n, field: "segmentation")
            }
            gtBucket[n] = k * Int32(I) + i
        }
        var dtBucket = [Int32](repeating: -1, count: results.count)
        for (n, r) in results.enumerated() {
            guard let i = imageIndex[r.imageId], let k = catIndex[r.categoryId] else { continue }
            if resultsAreBoxes && r.bbox == nil { throw COCOEvalError.missingField(what: "result", index: n, field: "bbox (the first result has one)") }
            if !resultsAreBoxes && r.segmentation == nil { throw COCOEvalError.missingField(what: "result", index: n, field: "segmentation") }
            dtBucket[n] = k * Int32(I) + i
        }
        var (gs, gi) = Self.countingSort(gtBucket, buckets: nCatBuckets)
        gi = gi.map { Int32(loaded[Int($0)]) }
        var (ds, di) = Self.countingSort(dtBucket, buckets: nCatBuckets)
        if !params.useCats {
            // One bucket per image: categories in sorted-id order, then file order.
            (gtStart, gtIndex) = Self.regroupByImage(gs, gi, categories: categoryIds.count, images: I)
            (ds, di) = Self.regroupByImage(ds, di, categories: categoryIds.count, images: I)
        } else {
            gtStart = gs
            gtIndex = gi
        }
        // Sort each bucket's detections by score (stable) and keep the first maxDets.last.
        let maxDet = params.maxDets.last!
        let buckets = ds.count - 1
        dtStart = [0]
        dtStart.reserveCapacity(buckets + 1)
        dtIndex.reserveCapacity(di.count)
        dtScore.reserveCapacity(di.count)
        var keyed: [(score: Double, position: Int32)] = []
        for b in 0..<buckets {
            let lo = ds[b], count = ds[b + 1] - lo
            if count == 0 {
                dtStart.append(dtIndex.count)
                continue
            }
            // Ties keep their position in the bucket (file order; with useCats off, category
            // order then file order), as numpy's stable mergesort.
            keyed.removeAll(keepingCapacity: true)
            for p in 0..<count { keyed.append((results[Int(di[lo + p])].score, Int32(p))) }
            if count > 1 {
                keyed.sort { x, y in x.score > y.score || (x.score == y.score && x.position < y.position) }
            }
            for e in keyed.prefix(maxDet) {
                dtIndex.append(di[lo + Int(e.position)])
                dtScore.append(e.score)
            }
            dtStart.append(dtIndex.count)
        }
        // Flat copies of the fields the matching reads, in bucket order.
        gtBoxes = gtIndex.map { gt.annotations[Int($0)].bbox ?? COCOBox(x: 0, y: 0, width: 0, height: 0) }
        gtAreas = gtIndex.map { n in
            let a = gt.annotations[Int(n)]
            // A missing area (pycocotools would raise a KeyError) falls back to the box's.
            return a.area ?? (a.bbox.map { $0.width * $0.height } ?? 0)
        }
        gtCrowd = gtIndex.map { gt.annotations[Int($0)].isCrowd }
        gtIdZero = gtIndex.map { gt.annotations[Int($0)].id == 0 }
        if resultsAreBoxes {
            dtBoxes = dtIndex.map { results[Int($0)].bbox! }
        }
    }

    /// Stable counting sort of item indices by bucket (-1: dropped): (starts, indices).
    static func countingSort(_ bucketOf: [Int32], buckets: Int) -> ([Int], [Int32]) {
        var start = [Int](repeating: 0, count: buckets + 1)
        for b in bucketOf where b >= 0 { start[Int(b) + 1] += 1 }
        for b in 0..<buckets { start[b + 1] += start[b] }
        var fill = start
        var out = [Int32](repeating: 0, count: start[buckets])
        for (n, b) in bucketOf.enumerated() where b >= 0 {
            out[fill[Int(b)]] = Int32(n)
            fill[Int(b)] += 1
        }
        return (start, out)
    }

    static func regroupByImage(_ start: [Int], _ index: [Int32], categories: Int, images: Int) -> ([Int], [Int32]) {
        var s = [0]
        var out: [Int32] = []
        out.reserveCapacity(index.count)
        for i in 0..<images {
            for k in 0..<categories {
                let b = k * images + i
                out.append(contentsOf: index[start[b]..<start[b + 1]])
            }
            s.append(out.count)
        }
        return (s, out)
    }
}

extension COCOEvaluator {
    /// Reads an instances file and a results file and evaluates them (pycocotools' COCO(),
    /// loadRes, evaluate and accumulate). Warnings of both readers are returned.
    public static func evaluate(groundTruthPath: String, resultsPath: String, params: COCOEvalParams,
                                lenient: Bool = false, threads: Int = 0) throws -> (result: COCOEvalResult, warnings: [String]) {
        let gt = try COCOInstances.load(groundTruthPath)
        let dt = try COCOResults.load(resultsPath, groundTruth: gt, lenient: lenient)
        let evaluator = try COCOEvaluator(groundTruth: gt, results: dt.results, params: params)
        return (try evaluator.run(threads: threads), gt.warnings + dt.warnings)
    }
}
