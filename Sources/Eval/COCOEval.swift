import Datasets
import Dispatch

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

        // Ground truth, validated for the fields this iouType needs.
        var gtBucket = [Int32](repeating: -1, count: gt.annotations.count)
        for (n, a) in gt.annotations.enumerated() {
            guard let i = imageIndex[a.imageId], let k = catIndex[a.categoryId] else { continue }
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
        let (gs, gi) = Self.countingSort(gtBucket, buckets: nCatBuckets)
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

    // MARK: evaluate

    /// Per-bucket matching results: for each (area range, IoU threshold, detection) a code
    /// (0 false positive, 1 true positive, 2 ignored), and per (bucket, area range) the number
    /// of non-ignored ground truths.
    struct Matches: Sendable {
        var codeStart: [Int]
        var codes: [UInt8]
        var nonIgnored: [Int32]
    }

    /// Runs evaluate (matching) and accumulate. `threads` 1 runs serially; any other value
    /// spreads (image, category) buckets, then categories, over all cores with
    /// DispatchQueue.concurrentPerform. The result does not depend on it.
    public func run(threads: Int = 0) throws -> COCOEvalResult {
        let matches = try evaluate(threads: threads)
        return accumulate(matches, threads: threads)
    }

    func evaluate(threads: Int) throws -> Matches {
        let buckets = dtStart.count - 1
        let A = params.areaRanges.count, T = params.iouThresholds.count
        var codeStart = [Int](repeating: 0, count: buckets + 1)
        for b in 0..<buckets { codeStart[b + 1] = codeStart[b] + A * T * (dtStart[b + 1] - dtStart[b]) }
        // (At least one byte, so that the buffer always has a base address.)
        var codes = [UInt8](repeating: 0, count: max(1, codeStart[buckets]))
        var nonIgnored = [Int32](repeating: 0, count: buckets * A)
        var failures = [Int32](repeating: -1, count: buckets)
        let workers = Self.workerCount(threads)
        let chunk = max(1, (buckets + workers * 8 - 1) / (workers * 8))
        let chunks = (buckets + chunk - 1) / chunk
        codes.withUnsafeMutableBufferPointer { codesBuf in
            nonIgnored.withUnsafeMutableBufferPointer { npigBuf in
                failures.withUnsafeMutableBufferPointer { failBuf in
                    nonisolated(unsafe) let codesP = codesBuf
                    nonisolated(unsafe) let npigP = npigBuf
                    nonisolated(unsafe) let failP = failBuf
                    let cs = codeStart
                    let work: @Sendable (Int) -> Void = { c in
                        let scratch = BucketScratch()
                        let lo = c * chunk, hi = min(buckets, lo + chunk)
                        for b in lo..<hi {
                            if let bad = self.evaluateBucket(b, scratch: scratch, codes: codesP.baseAddress! + cs[b],
                                                             nonIgnored: npigP.baseAddress! + b * A) {
                                failP[b] = bad
                            }
                        }
                    }
                    if workers == 1 || chunks == 1 {
                        for c in 0..<chunks { work(c) }
                    } else {
                        DispatchQueue.concurrentPerform(iterations: chunks, execute: work)
                    }
                }
            }
        }
        if let b = failures.firstIndex(where: { $0 >= 0 }) {
            let n = Int(failures[b])
            if n >= results.count {
                throw COCOEvalError.badSegmentation(what: "ground-truth annotation", index: n - results.count, reason: "cannot be decoded")
            }
            throw COCOEvalError.badSegmentation(what: "result", index: n, reason: "compressed RLE counts cannot be decoded")
        }
        return Matches(codeStart: codeStart, codes: codes, nonIgnored: nonIgnored)
    }

    static func workerCount(_ threads: Int) -> Int {
        if threads > 0 { return threads }
        return max(1, Int(sysconfCores()))
    }

    /// A growable raw buffer (per worker; no allocation per detection or per bucket).
    struct RawBuffer<T> {
        private var pointer: UnsafeMutablePointer<T>?
        private var capacity = 0

        /// At least `n` elements (contents undefined).
        mutating func get(_ n: Int) -> UnsafeMutablePointer<T> {
            if n > capacity || pointer == nil {
                pointer?.deallocate()
                capacity = Swift.max(n, capacity * 2, 64)
                pointer = .allocate(capacity: capacity)
            }
            return pointer!
        }

        func free() { pointer?.deallocate() }
    }

    /// Reusable per-worker buffers.
    final class BucketScratch {
        var ious = RawBuffer<Double>()
        var sortedIoUs = RawBuffer<Double>()
        var order = RawBuffer<Int>()
        var ignored = RawBuffer<Bool>()
        var crowd = RawBuffer<Bool>()
        var idZero = RawBuffer<Bool>()
        var taken = RawBuffer<Bool>()
        var dtArea = RawBuffer<Double>()
        var dtBox = RawBuffer<COCOBox>()
        var outside = RawBuffer<Bool>()
        var gtMasks: [RLE] = []
        var dtMasks: [RLE] = []
        var gtMaskBoxes: [COCOBox] = []
        var dtMaskBoxes: [COCOBox] = []

        deinit {
            ious.free(); sortedIoUs.free(); order.free(); ignored.free(); crowd.free(); idZero.free()
            taken.free(); dtArea.free(); dtBox.free(); outside.free()
        }
    }

    /// Matching of one bucket. Returns an index of a segmentation that failed to decode
    /// (results first, then ground truth offset by results.count), or nil.
    func evaluateBucket(_ b: Int, scratch s: BucketScratch, codes: UnsafeMutablePointer<UInt8>,
                        nonIgnored: UnsafeMutablePointer<Int32>) -> Int32? {
        let g0 = gtStart[b], g1 = gtStart[b + 1], d0 = dtStart[b], d1 = dtStart[b + 1]
        let G = g1 - g0, D = d1 - d0
        let A = params.areaRanges.count, T = params.iouThresholds.count
        if D == 0 {
            // Only the count of regular ground truths matters to accumulate.
            for a in 0..<A {
                let range = params.areaRanges[a]
                var regular: Int32 = 0
                for g in g0..<g1 where !(gtCrowd[g] || gtAreas[g] < range.min || gtAreas[g] > range.max) { regular += 1 }
                nonIgnored[a] = regular
            }
            return nil
        }
        let image = params.useCats ? b % I : b
        let (h, w) = imageSizes[image]
        let dtArea = s.dtArea.get(D)
        let dtBox = s.dtBox.get(D)
        // Detections: areas (loadRes: w*h for box results, the mask's pixel count otherwise).
        let needMasks = params.iouType == .segm || !resultsAreBoxes
        s.dtMasks.removeAll(keepingCapacity: true)
        for d in 0..<D {
            let n = Int(dtIndex[d0 + d])
            if needMasks {
                let r = results[n]
                let mask: RLE?
                if let seg = r.segmentation {
                    mask = RLE(segmentation: seg, height: h, width: w)
                } else if let box = r.bbox {
                    mask = RLE(box: box, height: h, width: w)
                } else {
                    mask = nil
                }
                guard let mask else { return Int32(n) }
                s.dtMasks.append(mask)
                if !resultsAreBoxes {
                    dtArea[d] = Double(mask.area)
                    dtBox[d] = r.bbox ?? mask.boundingBox
                }
            }
            if resultsAreBoxes {
                let box = dtBoxes[d0 + d]
                dtArea[d] = box.width * box.height
                dtBox[d] = box
            }
        }
        // IoU matrix [D][G].
        let ious = s.ious.get(D * G)
        if G > 0 {
            if params.iouType == .bbox {
                gtBoxes.withUnsafeBufferPointer { gb in
                    gtCrowd.withUnsafeBufferPointer { gc in
                        for d in 0..<D {
                            let db = dtBox[d]
                            let row = ious + d * G
                            for g in 0..<G { row[g] = MaskIoU.box(db, gb[g0 + g], crowd: gc[g0 + g]) }
                        }
                    }
                }
            } else {
                s.gtMasks.removeAll(keepingCapacity: true)
                s.gtMaskBoxes.removeAll(keepingCapacity: true)
                for g in g0..<g1 {
                    let n = gtIndex[g]
                    guard let m = RLE(segmentation: gt.annotations[Int(n)].segmentation!, height: h, width: w) else {
                        return Int32(results.count) + n
                    }
                    s.gtMasks.append(m)
                    s.gtMaskBoxes.append(m.boundingBox)
                }
                s.dtMaskBoxes.removeAll(keepingCapacity: true)
                for m in s.dtMasks { s.dtMaskBoxes.append(m.boundingBox) }
                for d in 0..<D {
                    for g in 0..<G {
                        ious[d * G + g] = MaskIoU.mask(s.dtMasks[d], s.gtMasks[g], crowd: gtCrowd[g0 + g],
                                                       dBox: s.dtMaskBoxes[d], gBox: s.gtMaskBoxes[g])
                    }
                }
            }
        }
        // Matching per area range and IoU threshold, on the IoU columns reordered so that the
        // regular ground truths come first (each group in bucket order), as pycocotools sorts.
        let order = s.order.get(G), ignored = s.ignored.get(G), crowd = s.crowd.get(G), idZero = s.idZero.get(G)
        let taken = s.taken.get(G), outside = s.outside.get(D), sorted = s.sortedIoUs.get(D * G)
        for a in 0..<A {
            let range = params.areaRanges[a]
            var regular = 0
            for g in 0..<G where !(gtCrowd[g0 + g] || gtAreas[g0 + g] < range.min || gtAreas[g0 + g] > range.max) {
                order[regular] = g
                regular += 1
            }
            var k = regular
            for g in 0..<G where gtCrowd[g0 + g] || gtAreas[g0 + g] < range.min || gtAreas[g0 + g] > range.max {
                order[k] = g
                k += 1
            }
            nonIgnored[a] = Int32(regular)
            for gi in 0..<G {
                let g = order[gi]
                ignored[gi] = gi >= regular
                crowd[gi] = gtCrowd[g0 + g]
                idZero[gi] = gtIdZero[g0 + g]
                for d in 0..<D { sorted[d * G + gi] = ious[d * G + g] }
            }
            for d in 0..<D { outside[d] = dtArea[d] < range.min || dtArea[d] > range.max }
            for t in 0..<T {
                // Codes are stored detection-major ([d][a][t]) so that accumulate reads each
                // detection's A*T codes from one cache line.
                let out = codes + (a * T + t)
                let step = A * T
                taken.initialize(repeating: false, count: G)
                let threshold = Swift.min(params.iouThresholds[t], 1 - 1e-10)
                for d in 0..<D {
                    var best = threshold
                    var m = -1
                    let row = sorted + d * G
                    for g in 0..<G {
                        if taken[g] && !crowd[g] { continue }
                        if m > -1 && !ignored[m] && ignored[g] { break }
                        let v = row[g]
                        if v < best { continue }
                        best = v
                        m = g
                    }
                    if m == -1 {
                        out[d * step] = outside[d] ? 2 : 0
                        continue
                    }
                    taken[m] = true
                    if ignored[m] {
                        out[d * step] = 2
                    } else if idZero[m] {
                        out[d * step] = outside[d] ? 2 : 0   // pycocotools quirk: ground-truth id 0 reads as "unmatched"
                    } else {
                        out[d * step] = 1
                    }
                }
            }
        }
        return nil
    }
}

#if canImport(Glibc)
import Glibc
func sysconfCores() -> Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }
#elseif canImport(Darwin)
import Darwin
func sysconfCores() -> Int { Int(sysconf(_SC_NPROCESSORS_ONLN)) }
#else
func sysconfCores() -> Int { 1 }
#endif

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
