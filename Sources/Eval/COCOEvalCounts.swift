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

extension COCOEvaluator {
    /// Runs the evaluation (as `run`) and counts, per category, the detections above
    /// `scoreThreshold` matched at `iouThreshold` (one of the params' thresholds). Counts are
    /// empty with useCats off.
    public func runCounting(scoreThreshold: Double, iouThreshold: Double = 0.5,
                            threads: Int = 0) throws -> (result: COCOEvalResult, counts: [COCOCategoryCounts]) {
        guard let t = params.iouThresholds.firstIndex(of: iouThreshold) else {
            throw COCOEvalError.invalidParameters("IoU threshold \(iouThreshold) is not among the evaluated thresholds")
        }
        guard let a = params.areaRanges.firstIndex(where: { $0.label == "all" }) else {
            throw COCOEvalError.invalidParameters("no area range labelled \"all\"")
        }
        let matches = try evaluate(threads: threads)
        let result = accumulate(matches, threads: threads)
        guard params.useCats else { return (result, []) }
        let A = params.areaRanges.count, T = params.iouThresholds.count
        var counts: [COCOCategoryCounts] = []
        for (k, id) in categoryIds.enumerated() {
            var c = COCOCategoryCounts(categoryId: id, groundTruths: 0, detections: 0, truePositives: 0, falsePositives: 0)
            for i in 0..<I {
                let b = k * I + i
                c.groundTruths += Int(matches.nonIgnored[b * A + a])
                let n = dtStart[b + 1] - dtStart[b]
                c.detections += n
                for d in 0..<n where dtScore[dtStart[b] + d] > scoreThreshold {
                    switch matches.codes[matches.codeStart[b] + d * A * T + a * T + t] {
                    case 1: c.truePositives += 1
                    case 0: c.falsePositives += 1
                    default: break
                    }
                }
            }
            counts.append(c)
        }
        return (result, counts)
    }
}
