import Datasets
import Dispatch
import Foundation

// Panoptic quality with the semantics of panopticapi's pq_compute (Kirillov et al. 2019),
// reimplemented from its description:
//
// - segment ids are read from the PNGs as R + 256 G + 256^2 B; id 0 is VOID;
// - every pixel is a (ground-truth id, predicted id) pair; their counts give the intersections;
// - a ground-truth and a predicted segment of the same category match when IoU > 0.5, with
//   union = predicted area + ground-truth area (from the JSON) - intersection
//           - (predicted pixels on VOID); crowd ground truth never matches;
// - unmatched non-crowd ground truth: a false negative of its category;
// - unmatched predictions: a false positive of their category, unless more than half of their
//   pixels lie on VOID or on the crowd region of their category (the last crowd segment of that
//   category in segments_info, as panopticapi's dictionary keeps it);
// - per category PQ = sum IoU / (TP + FP/2 + FN/2), SQ = sum IoU / TP, RQ = TP / (TP + FP/2 + FN/2);
//   All / Things / Stuff average over the categories with any TP, FP or FN.
// Predicted areas are counted from the PNG; a predicted id in the PNG and not in the JSON
// (other than 0), one in the JSON and not in the PNG, and an unknown category are errors, as
// in panopticapi. Images are evaluated in parallel; sums are taken in image order. The two PNGs
// of an image go through the Datasets PNG fast path a row at a time (libdeflate inflate, the
// runs of equal id pairs found on the rows, no whole id maps) where it applies; other files are
// decoded whole (libpng); the counts are the same either way.

/// The counts of one category.
public struct PanopticCategoryStat: Sendable, Equatable {
    public var iou: Double = 0
    public var tp: Int = 0
    public var fp: Int = 0
    public var fn: Int = 0

    public init(iou: Double = 0, tp: Int = 0, fp: Int = 0, fn: Int = 0) {
        self.iou = iou; self.tp = tp; self.fp = fp; self.fn = fn
    }

    static func += (a: inout PanopticCategoryStat, b: PanopticCategoryStat) {
        a.iou += b.iou
        a.tp += b.tp
        a.fp += b.fp
        a.fn += b.fn
    }
}

/// PQ, SQ and RQ as fractions, and the number of categories averaged (`n`).
public struct PanopticScores: Sendable, Equatable {
    public var pq: Double
    public var sq: Double
    public var rq: Double
    public var n: Int
}

/// The result of an evaluation.
public struct PanopticResult: Sendable {
    /// The ground truth's categories, in its order.
    public var categories: [PanopticCategory]
    /// Counts per category id.
    public var stats: [Int: PanopticCategoryStat]
    public var all: PanopticScores
    public var things: PanopticScores
    public var stuff: PanopticScores
    /// Per category (in `categories` order): PQ, SQ, RQ (0 for a category with no TP, FP or FN).
    public var perCategory: [(category: PanopticCategory, scores: PanopticScores)]
    public var imageCount: Int
}

public enum PanopticQuality {
    /// Segment-id PNG of one image, decoded: `width * height` ids.
    public struct SegmentMap: Sendable {
        public var width: Int
        public var height: Int
        public var ids: [UInt32]

        public init(width: Int, height: Int, ids: [UInt32]) {
            self.width = width; self.height = height; self.ids = ids
        }

        /// Reads a PNG and converts RGB to ids as panopticapi's rgb2id does on PIL's array: an
        /// 8-bit RGB or RGBA PNG gives R + 256 G + 256^2 B (alpha ignored), an 8-bit gray PNG
        /// gives its gray value. Palette, gray+alpha and 16-bit PNGs (where PIL's array holds
        /// something else) are refused with an error naming the file.
        public static func load(_ path: String) throws -> SegmentMap {
            try load(bytes: try FileIO.readBytes(path), path: path)
        }

        /// Decodes a PNG's bytes as `load` does; `path` names the file in errors.
        public static func load(bytes: [UInt8], path: String) throws -> SegmentMap {
            var grayIDs = false
            if ImageFormat.sniff(bytes) == .png, bytes.count >= 26 {
                let depth = bytes[24], colorType = bytes[25]
                switch (depth, colorType) {
                case (8, 2), (8, 6): break
                case (8, 0): grayIDs = true
                default:
                    let kind = [0: "gray", 2: "RGB", 3: "palette", 4: "gray+alpha", 6: "RGBA"][Int(colorType)] ?? "unknown"
                    throw PanopticError.inconsistentSegments(path: path,
                        reason: "\(depth)-bit \(kind) PNG: segment-id PNGs must be 8-bit RGB (id = R + 256 G + 256^2 B)")
                }
            }
            if let fast = ImageIO.decodePNGSegmentIDs(bytes) {
                return SegmentMap(width: fast.width, height: fast.height, ids: fast.ids)
            }
            let image = try ImageIO.decode(bytes, path: path)
            let n = image.width * image.height
            let ids = image.pixels.withUnsafeBufferPointer { px in
                [UInt32](unsafeUninitializedCapacity: n) { out, count in
                    if grayIDs {
                        for i in 0..<n { out[i] = UInt32(px[3 * i]) }
                    } else {
                        for i in 0..<n {
                            out[i] = UInt32(px[3 * i]) | UInt32(px[3 * i + 1]) << 8 | UInt32(px[3 * i + 2]) << 16
                        }
                    }
                    count = n
                }
            }
            return SegmentMap(width: image.width, height: image.height, ids: ids)
        }
    }

    /// Evaluates predictions against ground truth read from panoptic JSON files and their PNG
    /// folders. `threads` images are decoded and evaluated at once; `progress(done, total)` is
    /// called (from worker threads) after each image.
    public static func evaluate(groundTruthJSON: String, groundTruthFolder: String,
                                predictionJSON: String, predictionFolder: String,
                                threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                                progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> PanopticResult {
        // The two files are read at once when there are two threads.
        nonisolated(unsafe) var loaded: [Result<COCOPanoptic, Error>?] = [nil, nil]
        let paths = [groundTruthJSON, predictionJSON]
        DispatchQueue.concurrentPerform(iterations: threads > 1 ? 2 : 1) { k in
            for i in stride(from: k, to: 2, by: threads > 1 ? 2 : 1) {
                loaded[i] = Result { try COCOPanoptic.load(paths[i]) }
            }
        }
        let gt = try loaded[0]!.get()
        let pred = try loaded[1]!.get()
        return try evaluate(groundTruth: gt, groundTruthFolder: groundTruthFolder, prediction: pred,
                            predictionFolder: predictionFolder, predictionJSON: predictionJSON,
                            threads: threads, progress: progress)
    }

    /// Evaluates decoded JSON; the PNGs are read from the folders by each annotation's file name.
    public static func evaluate(groundTruth gt: COCOPanoptic, groundTruthFolder: String,
                                prediction pred: COCOPanoptic, predictionFolder: String,
                                predictionJSON: String = "<predictions>",
                                threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                                progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> PanopticResult {
        var predByImage: [PanopticImageID: PanopticAnnotation] = [:]
        for a in pred.annotations { predByImage[a.imageID] = a }
        var pairs: [(PanopticAnnotation, PanopticAnnotation)] = []
        pairs.reserveCapacity(gt.annotations.count)
        for g in gt.annotations {
            guard let p = predByImage[g.imageID] else {
                throw PanopticError.missingPrediction(path: predictionJSON, imageID: g.imageID.description)
            }
            pairs.append((g, p))
        }
        let categoryIDs = Set(gt.categories.map(\.id))
        let count = pairs.count
        let frozenPairs = pairs
        let results = UnsafeMutableBufferPointer<Result<[Int: PanopticCategoryStat], Error>?>.allocate(capacity: count)
        results.initialize(repeating: nil)
        defer { results.deallocate() }
        nonisolated(unsafe) let out = results
        let lock = NSLock()
        nonisolated(unsafe) var next = 0
        nonisolated(unsafe) var done = 0
        let workers = max(1, min(threads, count))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            // Each worker decodes with its own row readers, reused from image to image.
            var rows = RowPairReader()
            defer { rows.free() }
            while true {
                lock.lock()
                let i = next
                next += 1
                lock.unlock()
                if i >= count { break }
                let (g, p) = frozenPairs[i]
                let r = Result {
                    let gtPath = FileIO.join(groundTruthFolder, g.fileName)
                    let predPath = FileIO.join(predictionFolder, p.fileName)
                    let gtBytes = try FileIO.readBytes(gtPath)
                    let predBytes = try FileIO.readBytes(predPath)
                    if let pairs = rows.count(groundTruth: gtBytes, prediction: predBytes) {
                        return try evaluateImage(pairs: pairs, groundTruthSegments: g.segments, predictionSegments: p.segments,
                                                 categories: categoryIDs, groundTruthPath: gtPath, predictionPath: predPath)
                    }
                    // Files the row-wise fast path does not take (or finds irregular, or of
                    // different sizes) are decoded whole, with the errors that gives.
                    let gtMap = try SegmentMap.load(bytes: gtBytes, path: gtPath)
                    let predMap = try SegmentMap.load(bytes: predBytes, path: predPath)
                    return try evaluateImage(groundTruth: gtMap, groundTruthSegments: g.segments,
                                             prediction: predMap, predictionSegments: p.segments,
                                             categories: categoryIDs, groundTruthPath: gtPath, predictionPath: predPath)
                }
                out[i] = r
                lock.lock()
                done += 1
                let d = done
                lock.unlock()
                progress?(d, count)
            }
        }
        var stats: [Int: PanopticCategoryStat] = [:]
        for i in 0..<count {
            switch results[i]! {
            case let .success(s): for (k, v) in s { stats[k, default: PanopticCategoryStat()] += v }
            case let .failure(e): throw e
            }
        }
        return summarize(stats: stats, categories: gt.categories, imageCount: count)
    }

    /// Pixel counts of (ground-truth id, predicted id) pairs of one image.
    struct PixelPairs {
        private(set) var counts: [UInt64: Int] = [:]
        /// Pixels per predicted id.
        private(set) var predictedArea: [UInt32: Int] = [:]

        /// Counts the pairs of two whole maps.
        init(groundTruth g: UnsafeBufferPointer<UInt32>, prediction p: UnsafeBufferPointer<UInt32>) {
            var table = RunTable()
            defer { table.free() }
            if let gb = g.baseAddress, let pb = p.baseAddress {
                Self.add(groundTruth: gb, prediction: pb, count: min(g.count, p.count), to: &table)
            }
            self.init(table)
        }

        /// The pairs counted in `table`.
        init(_ table: RunTable) {
            let counts = table.dictionary()
            for (key, c) in counts { predictedArea[UInt32(truncatingIfNeeded: key), default: 0] += c }
            self.counts = counts
        }

        /// Counts the pairs of `n` pixels into `table`, a run of equal pairs at a time (a run
        /// cut in two, as at the end of a row, counts the same).
        static func add(groundTruth gb: UnsafePointer<UInt32>, prediction pb: UnsafePointer<UInt32>, count n: Int,
                        to table: inout RunTable) {
            var i = 0
            while i < n {
                let a = gb[i], b = pb[i]
                var j = i + 1
                // Four pixels at a time while both maps keep their values (segment maps are
                // mostly long runs), then one at a time.
                let a4 = SIMD4<UInt32>(repeating: a), b4 = SIMD4<UInt32>(repeating: b)
                while j + 4 <= n {
                    let gv = UnsafeRawPointer(gb + j).loadUnaligned(as: SIMD4<UInt32>.self)
                    let pv = UnsafeRawPointer(pb + j).loadUnaligned(as: SIMD4<UInt32>.self)
                    if ((gv ^ a4) | (pv ^ b4)) != SIMD4<UInt32>() { break }
                    j += 4
                }
                while j < n && gb[j] == a && pb[j] == b { j += 1 }
                table.add(UInt64(a) << 32 | UInt64(b), j - i)
                i = j
            }
        }

        static func key(_ gt: Int, _ pred: Int) -> UInt64? {
            guard (0...Int(UInt32.max)).contains(gt), (0...Int(UInt32.max)).contains(pred) else { return nil }
            return UInt64(gt) << 32 | UInt64(pred)
        }

        /// Pixels where the ground truth has `gt` and the prediction `pred` (ids as the JSON
        /// writes them; ids no PNG can hold have no pixels).
        func count(_ gt: Int, _ pred: Int) -> Int {
            Self.key(gt, pred).flatMap { counts[$0] } ?? 0
        }

        func area(_ pred: Int) -> Int {
            guard (0...Int(UInt32.max)).contains(pred) else { return 0 }
            return predictedArea[UInt32(pred)] ?? 0
        }
    }

    /// Counts per (gt, pred) key while scanning: an open-addressing table with a multiplicative
    /// hash (a run of pixels costs a Dictionary update with SipHash otherwise, which was most of
    /// an image's matching time). Keys never equal UInt64.max (ids have 32 bits each and PNG ids
    /// at most 24).
    struct RunTable {
        private var keys: UnsafeMutablePointer<UInt64>
        private var values: UnsafeMutablePointer<Int>
        private var bits = 8
        private var used = 0
        private static let empty = UInt64.max

        init() {
            keys = .allocate(capacity: 1 << bits)
            keys.initialize(repeating: Self.empty, count: 1 << bits)
            values = .allocate(capacity: 1 << bits)
        }

        mutating func add(_ key: UInt64, _ n: Int) {
            let mask = (1 << bits) - 1
            var slot = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> UInt64(64 - bits))
            while true {
                let k = keys[slot]
                if k == key {
                    values[slot] += n
                    return
                }
                if k == Self.empty { break }
                slot = (slot + 1) & mask
            }
            keys[slot] = key
            values[slot] = n
            used += 1
            if 2 * used > (1 << bits) { grow() }
        }

        private mutating func grow() {
            let oldKeys = keys, oldValues = values, oldSize = 1 << bits
            bits += 1
            keys = .allocate(capacity: 1 << bits)
            keys.initialize(repeating: Self.empty, count: 1 << bits)
            values = .allocate(capacity: 1 << bits)
            used = 0
            for i in 0..<oldSize where oldKeys[i] != Self.empty { add(oldKeys[i], oldValues[i]) }
            oldKeys.deallocate()
            oldValues.deallocate()
        }

        func dictionary() -> [UInt64: Int] {
            var d = [UInt64: Int](minimumCapacity: used)
            for i in 0..<(1 << bits) where keys[i] != Self.empty { d[keys[i]] = values[i] }
            return d
        }

        func free() {
            keys.deallocate()
            values.deallocate()
        }
    }

    /// A worker's row-wise decoding of an image's two PNGs, counting pixel pairs a row at a
    /// time: the maps are never held whole (two megabyte-sized id buffers per image were a
    /// noticeable part of an evaluation's time, the L2 cache being about that size).
    struct RowPairReader {
        private let gtReader = PNGSegmentRowReader(), predReader = PNGSegmentRowReader()
        private var keys = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
        private var lengths = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
        private var capacity = 1

        /// The pixel pairs of the two PNGs, or nil when the fast path does not take both files,
        /// finds one irregular, or their sizes differ (decode them whole then).
        mutating func count(groundTruth: [UInt8], prediction: [UInt8]) -> PixelPairs? {
            groundTruth.withUnsafeBufferPointer { g in
                prediction.withUnsafeBufferPointer { p in
                    guard let gs = gtReader.begin(g), let ps = predReader.begin(p), gs == ps else { return nil }
                    if gs.width > capacity {
                        free()
                        keys = .allocate(capacity: gs.width)
                        lengths = .allocate(capacity: gs.width)
                        capacity = gs.width
                    }
                    var table = RunTable()
                    defer { table.free() }
                    for _ in 0..<gs.height {
                        guard let n = gtReader.nextRowRuns(with: predReader, keys: keys, lengths: lengths) else { return nil }
                        for i in 0..<n { table.add(keys[i], Int(lengths[i])) }
                    }
                    return PixelPairs(table)
                }
            }
        }

        func free() {
            keys.deallocate()
            lengths.deallocate()
        }
    }

    /// Segments by id, in JSON order; a repeated id keeps its first position and its last value
    /// (as panopticapi's dictionary does).
    struct SegmentTable {
        var byID: [Int: PanopticSegment] = [:]
        var order: [Int] = []

        init(_ segments: [PanopticSegment]) {
            for s in segments {
                if byID[s.id] == nil { order.append(s.id) }
                byID[s.id] = s
            }
        }
    }

    /// The counts of one image. Paths only name the files in errors.
    public static func evaluateImage(groundTruth: SegmentMap, groundTruthSegments: [PanopticSegment],
                                     prediction: SegmentMap, predictionSegments: [PanopticSegment],
                                     categories: Set<Int>, groundTruthPath: String = "<ground truth>",
                                     predictionPath: String = "<prediction>") throws -> [Int: PanopticCategoryStat] {
        guard groundTruth.width == prediction.width, groundTruth.height == prediction.height,
              groundTruth.ids.count == prediction.ids.count else {
            throw PanopticError.inconsistentSegments(path: predictionPath,
                reason: "size \(prediction.width)x\(prediction.height) differs from the ground truth's \(groundTruth.width)x\(groundTruth.height) (\(groundTruthPath))")
        }
        let pairs = groundTruth.ids.withUnsafeBufferPointer { g in
            prediction.ids.withUnsafeBufferPointer { p in PixelPairs(groundTruth: g, prediction: p) }
        }
        return try evaluateImage(pairs: pairs, groundTruthSegments: groundTruthSegments,
                                 predictionSegments: predictionSegments, categories: categories,
                                 groundTruthPath: groundTruthPath, predictionPath: predictionPath)
    }

    /// The counts of one image from its pixel pairs.
    static func evaluateImage(pairs: PixelPairs, groundTruthSegments: [PanopticSegment],
                              predictionSegments: [PanopticSegment], categories: Set<Int>,
                              groundTruthPath: String, predictionPath: String) throws -> [Int: PanopticCategoryStat] {
        let gt = SegmentTable(groundTruthSegments)
        let pred = SegmentTable(predictionSegments)
        try checkPrediction(pairs, pred, categories: categories, path: predictionPath)

        var stats: [Int: PanopticCategoryStat] = [:]
        let (gtMatched, predMatched) = try match(pairs, gt, pred, into: &stats, groundTruthPath: groundTruthPath)
        // Unmatched ground truth: false negatives, except crowds (the last crowd segment of
        // each category is the one whose pixels excuse unmatched predictions).
        var crowdByCategory: [Int: Int] = [:]
        for id in gt.order where !gtMatched.contains(id) {
            let g = gt.byID[id]!
            if g.isCrowd == 1 {
                crowdByCategory[g.categoryID] = id
                continue
            }
            stats[g.categoryID, default: PanopticCategoryStat()].fn += 1
        }
        // Unmatched predictions: false positives unless more than half on void or crowd.
        for id in pred.order where !predMatched.contains(id) {
            let p = pred.byID[id]!
            var ignored = pairs.count(0, id)
            if let crowd = crowdByCategory[p.categoryID] { ignored += pairs.count(crowd, id) }
            let area = pairs.area(id)
            if area > 0 && Double(ignored) / Double(area) > 0.5 { continue }
            stats[p.categoryID, default: PanopticCategoryStat()].fp += 1
        }
        return stats
    }

    /// panopticapi's checks: every predicted id in the PNG (but 0) is in the JSON with a known
    /// category, and every id of the JSON is in the PNG.
    static func checkPrediction(_ pairs: PixelPairs, _ pred: SegmentTable, categories: Set<Int>, path: String) throws {
        var unseen = Set(pred.order)
        for id in pairs.predictedArea.keys.sorted() {
            guard let s = pred.byID[Int(id)] else {
                if id == 0 { continue }
                throw PanopticError.inconsistentSegments(path: path,
                    reason: "segment id \(id) is in the PNG but not in the JSON's segments_info")
            }
            unseen.remove(Int(id))
            if !categories.contains(s.categoryID) {
                throw PanopticError.inconsistentSegments(path: path,
                    reason: "segment id \(id) has unknown category_id \(s.categoryID)")
            }
        }
        if !unseen.isEmpty {
            throw PanopticError.inconsistentSegments(path: path,
                reason: "segment ids \(unseen.sorted()) are in the JSON's segments_info but not in the PNG")
        }
    }

    /// Matches non-crowd ground truth and predictions of the same category with IoU > 0.5
    /// (unique, since segments do not overlap), adding TPs and IoUs to `stats`; returns the
    /// matched ids. Pairs are visited in increasing (gt, pred) order, as np.unique yields them.
    static func match(_ pairs: PixelPairs, _ gt: SegmentTable, _ pred: SegmentTable,
                      into stats: inout [Int: PanopticCategoryStat],
                      groundTruthPath: String) throws -> (Set<Int>, Set<Int>) {
        var gtMatched = Set<Int>()
        var predMatched = Set<Int>()
        for key in pairs.counts.keys.sorted() {
            let inter = pairs.counts[key]!
            let gtID = Int(key >> 32), predID = Int(key & 0xFFFF_FFFF)
            guard let g = gt.byID[gtID], let p = pred.byID[predID], g.isCrowd != 1, g.categoryID == p.categoryID else { continue }
            guard let gtArea = g.area else {
                throw PanopticError.inconsistentSegments(path: groundTruthPath,
                    reason: "ground-truth segment \(gtID) has no 'area' in the JSON")
            }
            // The union leaves out the prediction's pixels on VOID.
            let union = Double(pairs.area(predID)) + gtArea - Double(inter) - Double(pairs.count(0, predID))
            guard union > 0 else {
                throw PanopticError.inconsistentSegments(path: groundTruthPath,
                    reason: "ground-truth segment \(gtID) has area \(gtArea) in the JSON, less than its \(inter) pixels shared with prediction \(predID)")
            }
            let iou = Double(inter) / union
            if iou > 0.5 {
                stats[g.categoryID, default: PanopticCategoryStat()].tp += 1
                stats[g.categoryID, default: PanopticCategoryStat()].iou += iou
                gtMatched.insert(gtID)
                predMatched.insert(predID)
            }
        }
        return (gtMatched, predMatched)
    }

    /// PQ / SQ / RQ per category and averaged over All, Things and Stuff.
    public static func summarize(stats: [Int: PanopticCategoryStat], categories: [PanopticCategory],
                                 imageCount: Int) -> PanopticResult {
        // A repeated category id keeps its first position and last value (a Python dict).
        var byID: [Int: PanopticCategory] = [:]
        var order: [Int] = []
        for c in categories {
            if byID[c.id] == nil { order.append(c.id) }
            byID[c.id] = c
        }
        var perCategory: [(category: PanopticCategory, scores: PanopticScores)] = []
        func average(_ isThing: Bool?) -> PanopticScores {
            var pq = 0.0, sq = 0.0, rq = 0.0
            var n = 0
            for id in order {
                let c = byID[id]!
                if let isThing, (c.isThing == 1) != isThing { continue }
                let s = stats[id] ?? PanopticCategoryStat()
                if s.tp + s.fp + s.fn == 0 {
                    if isThing == nil { perCategory.append((c, PanopticScores(pq: 0, sq: 0, rq: 0, n: 0))) }
                    continue
                }
                n += 1
                let denominator = Double(s.tp) + 0.5 * Double(s.fp) + 0.5 * Double(s.fn)
                let pqc = s.iou / denominator
                let sqc = s.tp != 0 ? s.iou / Double(s.tp) : 0
                let rqc = Double(s.tp) / denominator
                if isThing == nil { perCategory.append((c, PanopticScores(pq: pqc, sq: sqc, rq: rqc, n: 1))) }
                pq += pqc
                sq += sqc
                rq += rqc
            }
            // panopticapi divides by n = 0 (and fails); report 0 instead.
            guard n > 0 else { return PanopticScores(pq: 0, sq: 0, rq: 0, n: 0) }
            return PanopticScores(pq: pq / Double(n), sq: sq / Double(n), rq: rq / Double(n), n: n)
        }
        let all = average(nil)
        let things = average(true)
        let stuff = average(false)
        return PanopticResult(categories: order.map { byID[$0]! }, stats: stats, all: all, things: things,
                              stuff: stuff, perCategory: perCategory, imageCount: imageCount)
    }
}
