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
//
// The result types and the averaging are in PanopticResult.swift, the PNG reading in
// PanopticSegmentMap.swift and PanopticPixelPairs.swift, the per-image matching in
// PanopticMatching.swift.

public enum PanopticQuality {
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
}
