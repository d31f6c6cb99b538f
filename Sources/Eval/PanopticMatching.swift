import Datasets

// The counts of one image: panopticapi's checks, the IoU > 0.5 matching and the false
// positives and negatives left over.

extension PanopticQuality {
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
}
