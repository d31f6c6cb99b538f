/// One category's detections split by a score threshold at one IoU threshold, from COCOeval's
/// matching (area "all", the last maxDets): pycocotools' `evalImgs` counted.
public struct COCOCategoryCounts: Equatable, Sendable {
    public var categoryId: Int64
    /// Regular (not crowd) ground truths.
    public var groundTruths: Int
    /// Detections evaluated (each image's best `maxDets.last`), whatever their score.
    public var detections: Int
    /// Detections scored above the threshold (`>`) matched to a ground truth.
    public var truePositives: Int
    /// Detections scored above the threshold neither matched nor ignored (by a crowd).
    public var falsePositives: Int

    public init(categoryId: Int64, groundTruths: Int, detections: Int, truePositives: Int, falsePositives: Int) {
        self.categoryId = categoryId
        self.groundTruths = groundTruths
        self.detections = detections
        self.truePositives = truePositives
        self.falsePositives = falsePositives
    }

    /// tp / (tp + fp); NaN with no detection above the threshold.
    public var precision: Double { Double(truePositives) / Double(truePositives + falsePositives) }
    /// tp / ground truths; NaN without ground truth.
    public var recall: Double { Double(truePositives) / Double(groundTruths) }
    /// 2PR / (P + R); 0 when both are 0, NaN when either is NaN.
    public var f1: Double {
        let p = precision, r = recall
        if p.isNaN || r.isNaN { return .nan }
        return p + r > 0 ? 2 * p * r / (p + r) : 0
    }
}

/// One image's detections above a score threshold split by COCOeval's matching at one IoU
/// threshold (area "all", the last maxDets), summed over its categories.
public struct COCOImageCounts: Equatable, Sendable {
    public var imageId: Int64
    /// Regular (not crowd) ground truths.
    public var groundTruths: Int
    /// Detections scored above the threshold matched to a ground truth.
    public var truePositives: Int
    /// Detections scored above the threshold neither matched nor ignored.
    public var falsePositives: Int

    /// Regular ground truths no detection above the threshold matched.
    public var falseNegatives: Int { groundTruths - truePositives }
    /// False positives plus false negatives.
    public var errors: Int { falsePositives + falseNegatives }
}

/// One category's evaluated detections that are not ignored, highest score first, each with
/// whether COCOeval matched it at the tally's IoU threshold: what a score sweep needs.
public struct COCOScoredDetections: Equatable, Sendable {
    public var categoryId: Int64
    /// Regular ground truths of the category.
    public var groundTruths: Int
    /// Descending (ties in COCOeval's pooled order).
    public var scores: [Double]
    public var matched: [Bool]

    public init(categoryId: Int64, groundTruths: Int, scores: [Double], matched: [Bool]) {
        self.categoryId = categoryId
        self.groundTruths = groundTruths
        self.scores = scores
        self.matched = matched
    }
}

/// What `COCOEvaluator.runTallying` returns: the evaluation and its matching at one IoU
/// threshold counted per category and per image, with the scored detections per category.
public struct COCOEvalTally: Sendable {
    public var result: COCOEvalResult
    public var scoreThreshold: Double
    public var iouThreshold: Double
    /// Per category (the evaluated ids, sorted); empty with useCats off.
    public var categories: [COCOCategoryCounts]
    /// Per image of the evaluation (sorted ids); empty with useCats off.
    public var images: [COCOImageCounts]
    /// Per category, as `categories`.
    public var scored: [COCOScoredDetections]
}

extension COCOEvaluator {
    /// Runs the evaluation (as `run`) and counts, per category, the detections above
    /// `scoreThreshold` matched at `iouThreshold` (one of the params' thresholds). Counts are
    /// empty with useCats off.
    public func runCounting(scoreThreshold: Double, iouThreshold: Double = 0.5,
                            threads: Int = 0) throws -> (result: COCOEvalResult, counts: [COCOCategoryCounts]) {
        let tally = try runTallying(scoreThreshold: scoreThreshold, iouThreshold: iouThreshold, threads: threads)
        return (tally.result, tally.categories)
    }

    /// `runCounting` with the counts per image and the scored detections per category too.
    public func runTallying(scoreThreshold: Double, iouThreshold: Double = 0.5, threads: Int = 0) throws -> COCOEvalTally {
        guard let t = params.iouThresholds.firstIndex(of: iouThreshold) else {
            throw COCOEvalError.invalidParameters("IoU threshold \(iouThreshold) is not among the evaluated thresholds")
        }
        guard let a = params.areaRanges.firstIndex(where: { $0.label == "all" }) else {
            throw COCOEvalError.invalidParameters("no area range labelled \"all\"")
        }
        let matches = try evaluate(threads: threads)
        let result = accumulate(matches, threads: threads)
        var tally = COCOEvalTally(result: result, scoreThreshold: scoreThreshold, iouThreshold: iouThreshold,
                                  categories: [], images: [], scored: [])
        guard params.useCats else { return tally }
        let A = params.areaRanges.count, T = params.iouThresholds.count
        tally.images = imageIds.map { COCOImageCounts(imageId: $0, groundTruths: 0, truePositives: 0, falsePositives: 0) }
        for (k, id) in categoryIds.enumerated() {
            var c = COCOCategoryCounts(categoryId: id, groundTruths: 0, detections: 0, truePositives: 0, falsePositives: 0)
            var pooled: [(score: Double, matched: Bool)] = []
            for i in 0..<I {
                let b = k * I + i
                let regular = Int(matches.nonIgnored[b * A + a])
                c.groundTruths += regular
                tally.images[i].groundTruths += regular
                let n = dtStart[b + 1] - dtStart[b]
                c.detections += n
                for d in 0..<n {
                    let score = dtScore[dtStart[b] + d]
                    let code = matches.codes[matches.codeStart[b] + d * A * T + a * T + t]
                    if code != 2 { pooled.append((score, code == 1)) }
                    guard score > scoreThreshold else { continue }
                    switch code {
                    case 1: c.truePositives += 1; tally.images[i].truePositives += 1
                    case 0: c.falsePositives += 1; tally.images[i].falsePositives += 1
                    default: break
                    }
                }
            }
            // Stable: ties keep the pooled (image, then score) order, as accumulate sorts.
            let order = pooled.indices.sorted { x, y in
                pooled[x].score > pooled[y].score || (pooled[x].score == pooled[y].score && x < y)
            }
            tally.categories.append(c)
            tally.scored.append(COCOScoredDetections(categoryId: id, groundTruths: c.groundTruths,
                                                     scores: order.map { pooled[$0].score },
                                                     matched: order.map { pooled[$0].matched }))
        }
        return tally
    }
}
