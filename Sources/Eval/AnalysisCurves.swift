/// One class's values along a `ClassCurves` x axis.
public struct ClassCurve: Equatable, Sendable {
    public var categoryId: Int64
    public var y: [Double]

    public init(categoryId: Int64, y: [Double]) {
        self.categoryId = categoryId
        self.y = y
    }
}

/// Curves of the error analysis on one x axis: one per category with ground truth and their
/// mean ("all classes"), as ultralytics draws its PR and F1 curves.
public struct ClassCurves: Equatable, Sendable {
    public var x: [Double]
    public var perClass: [ClassCurve]
    /// The mean of `perClass` at each x (zeros when there is no class).
    public var mean: [Double]

    public init(x: [Double], perClass: [ClassCurve]) {
        self.x = x
        self.perClass = perClass
        mean = x.indices.map { i in
            perClass.isEmpty ? 0 : perClass.reduce(0) { $0 + $1.y[i] } / Double(perClass.count)
        }
    }

    /// The index of the mean's maximum (the first one on ties); nil without points.
    public var bestIndex: Int? {
        mean.indices.max { a, b in mean[a] < mean[b] || (mean[a] == mean[b] && a > b) }
    }

    /// Precision against recall from COCOeval's precision array at `iouThreshold` (area "all",
    /// the last maxDets): x the 101 recall thresholds, a curve per category with ground truth
    /// (pycocotools' `precision[t, :, k, 0, -1]`), the mean of those the "all classes" curve,
    /// whose area is the mAP at that IoU. Empty with useCats off or an IoU not evaluated.
    public static func precisionRecall(_ result: COCOEvalResult, iouThreshold: Double = 0.5) -> ClassCurves {
        let p = result.params
        let R = p.recallThresholds.count, A = p.areaRanges.count, M = p.maxDets.count
        let K = result.categoryIds.count
        guard p.useCats, let t = p.iouThresholds.firstIndex(of: iouThreshold),
              let a = p.areaRanges.firstIndex(where: { $0.label == "all" }) else {
            return ClassCurves(x: [], perClass: [])
        }
        var curves: [ClassCurve] = []
        for (k, id) in result.categoryIds.enumerated() {
            let y = (0..<R).map { r in result.precision[(((t * R + r) * K + k) * A + a) * M + (M - 1)] }
            if y.contains(where: { $0 > -1 }) { curves.append(ClassCurve(categoryId: id, y: y)) }
        }
        return ClassCurves(x: p.recallThresholds, perClass: curves)
    }

    /// F1 against the score threshold: at each threshold in `thresholds` (default 0, 0.01, ...,
    /// 1), per category with ground truth, the detections scored above it (`>`) give precision
    /// tp / (tp + fp) and recall tp / ground truths; F1 = 2PR / (P + R), 0 with no true
    /// positive. The mean is the "all classes" curve; `bestIndex` its best threshold.
    public static func f1(_ scored: [COCOScoredDetections], thresholds: [Double]? = nil) -> ClassCurves {
        let x = thresholds ?? (0...100).map { Double($0) / 100 }
        var curves: [ClassCurve] = []
        for s in scored where s.groundTruths > 0 {
            // Cumulative true positives along the descending scores.
            var tpBefore = [Int](repeating: 0, count: s.scores.count + 1)
            for (j, m) in s.matched.enumerated() { tpBefore[j + 1] = tpBefore[j] + (m ? 1 : 0) }
            let y = x.map { threshold -> Double in
                let above = countAbove(s.scores, threshold)
                let tp = Double(tpBefore[above])
                guard tp > 0 else { return 0 }
                let precision = tp / Double(above), recall = tp / Double(s.groundTruths)
                return 2 * precision * recall / (precision + recall)
            }
            curves.append(ClassCurve(categoryId: s.categoryId, y: y))
        }
        return ClassCurves(x: x, perClass: curves)
    }

    /// The number of leading entries of descending `scores` that are > `threshold`.
    static func countAbove(_ scores: [Double], _ threshold: Double) -> Int {
        var lo = 0, hi = scores.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if scores[mid] > threshold { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
