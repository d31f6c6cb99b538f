import Datasets
import Foundation

/// The output of COCOeval's accumulate: `precision[t][r][k][a][m]` and `recall[t][k][a][m]`
/// (flat, in that index order, -1 where a category has no ground truth), and summaries.
public struct COCOEvalResult: Sendable {
    public let params: COCOEvalParams
    /// The evaluated category ids (sorted); with useCats off precision has one category slot.
    public let categoryIds: [Int64]
    public let precision: [Double]
    public let recall: [Double]
    let categoryCount: Int

    init(params: COCOEvalParams, categoryIds: [Int64], precision: [Double], recall: [Double], categoryCount: Int) {
        self.params = params
        self.categoryIds = categoryIds
        self.precision = precision
        self.recall = recall
        self.categoryCount = categoryCount
    }

    /// One line of the summary: which statistic it is and its value.
    public struct Line: Sendable {
        public var averagePrecision: Bool
        public var iouThreshold: Double?
        public var area: String
        public var maxDets: Int
        public var value: Double
    }

    /// The 12 lines of `summarize()` for bbox / segm, in pycocotools' order.
    ///
    /// pycocotools quirk, matched: the first line asks for maxDets = 100 literally (the others
    /// use `maxDets[2]`), so with custom maxDets without 100 it reads -1; lines whose area label
    /// or maxDets are absent read -1 too.
    public var summaryLines: [Line] {
        let md = params.maxDets
        let m2 = md.count > 2 ? md[2] : -1
        let m0 = md.first ?? -1, m1 = md.count > 1 ? md[1] : -1
        return [
            line(ap: true, iou: nil, area: "all", maxDets: 100),
            line(ap: true, iou: 0.5, area: "all", maxDets: m2),
            line(ap: true, iou: 0.75, area: "all", maxDets: m2),
            line(ap: true, iou: nil, area: "small", maxDets: m2),
            line(ap: true, iou: nil, area: "medium", maxDets: m2),
            line(ap: true, iou: nil, area: "large", maxDets: m2),
            line(ap: false, iou: nil, area: "all", maxDets: m0),
            line(ap: false, iou: nil, area: "all", maxDets: m1),
            line(ap: false, iou: nil, area: "all", maxDets: m2),
            line(ap: false, iou: nil, area: "small", maxDets: m2),
            line(ap: false, iou: nil, area: "medium", maxDets: m2),
            line(ap: false, iou: nil, area: "large", maxDets: m2),
        ]
    }

    /// COCOeval's `stats`.
    public var stats: [Double] { summaryLines.map(\.value) }

    /// The summary text exactly as pycocotools prints it (12 lines, each ending in "\n").
    public var summaryText: String {
        let p = params
        var out = ""
        for l in summaryLines {
            let title = l.averagePrecision ? "Average Precision" : "Average Recall"
            let type = l.averagePrecision ? "(AP)" : "(AR)"
            let iou = l.iouThreshold.map { String(format: "%0.2f", $0) }
                ?? String(format: "%0.2f:%0.2f", p.iouThresholds.first!, p.iouThresholds.last!)
            out += " " + leftPad(title, 18) + " " + type + " @[ IoU=" + leftPad(iou, 9) + " | area="
                + rightAlign(l.area, 6) + " | maxDets=" + rightAlign(String(l.maxDets), 3) + " ] = "
                + String(format: "%0.3f", l.value) + "\n"
        }
        return out
    }

    /// AP (IoU .50:.95, area "all", the last maxDets) of each category: the mean of its
    /// precision entries above -1, or -1 when it has no ground truth. Nil entries with useCats off.
    public var perCategoryAP: [(categoryId: Int64, ap: Double)] { perCategoryAP(iouThreshold: nil) }

    /// Per category, the mean of its precision entries above -1 at `iouThreshold` (nil: every
    /// threshold; a value absent from the thresholds gives -1), area "all", the last maxDets:
    /// pycocotools' `precision[t, :, k, 0, -1]` slice averaged. Empty with useCats off.
    public func perCategoryAP(iouThreshold: Double?) -> [(categoryId: Int64, ap: Double)] {
        guard params.useCats else { return [] }
        let T = params.iouThresholds.count, R = params.recallThresholds.count
        let A = params.areaRanges.count, M = params.maxDets.count, K = categoryCount
        guard let a = params.areaRanges.firstIndex(where: { $0.label == "all" }) else { return [] }
        let tind = iouThreshold.map { v in (0..<T).filter { params.iouThresholds[$0] == v } } ?? Array(0..<T)
        return categoryIds.enumerated().map { k, id in
            var values: [Double] = []
            for t in tind {
                for r in 0..<R {
                    let v = precision[(((t * R + r) * K + k) * A + a) * M + (M - 1)]
                    if v > -1 { values.append(v) }
                }
            }
            return (id, values.isEmpty ? -1 : numpyMean(values))
        }
    }

    /// A per-category AP table (category name, AP in percent), one line per category in id
    /// order, as detectron2 / mmdetection print after the summary.
    public func perCategoryTable(_ categories: [COCOCategory]) -> String {
        var name: [Int64: String] = [:]
        for c in categories { name[c.id] = c.name }
        let rows = perCategoryAP.map { (name[$0.categoryId] ?? String($0.categoryId), $0.ap) }
        let width = max(8, rows.map(\.0.count).max() ?? 0)
        var out = leftPad("category", width) + "  AP\n"
        for (n, ap) in rows {
            out += leftPad(n, width) + "  " + (ap < 0 ? "nan" : String(format: "%.3f", ap * 100)) + "\n"
        }
        return out
    }

    /// `{"stats": [12 numbers], "per_category": {"name": {"ap": x}}}`: fractions in [0, 1]
    /// (-1 where pycocotools gives -1), categories keyed by name (by id when unnamed).
    public func jsonReport(_ categories: [COCOCategory]) -> String {
        var name: [Int64: String] = [:]
        for c in categories { name[c.id] = c.name }
        func number(_ v: Double) -> String { v.isFinite ? "\(v)" : "null" }
        let cats = perCategoryAP.map { jsonString(name[$0.categoryId] ?? String($0.categoryId)) + ": {\"ap\": " + number($0.ap) + "}" }
        return "{\"stats\": [" + stats.map(number).joined(separator: ", ") + "], \"per_category\": {"
            + cats.joined(separator: ", ") + "}}"
    }

    /// pycocotools' `_summarize`: the mean of the selected entries above -1 (numpy's pairwise
    /// summation, so the last bits agree too), or -1 when none.
    func line(ap: Bool, iou: Double?, area: String, maxDets: Int) -> Line {
        let p = params
        let T = p.iouThresholds.count, R = p.recallThresholds.count
        let A = p.areaRanges.count, M = p.maxDets.count, K = categoryCount
        let aind = p.areaRanges.indices.filter { p.areaRanges[$0].label == area }
        let mind = p.maxDets.indices.filter { p.maxDets[$0] == maxDets }
        let tind = iou.map { v in p.iouThresholds.indices.filter { p.iouThresholds[$0] == v } } ?? Array(0..<T)
        var values: [Double] = []
        // numpy's fancy index s[:, :, :, aind, mind] pairs aind with mind element-wise; both
        // have at most one entry here.
        if aind.count == 1 && mind.count == 1 {
            let a = aind[0], m = mind[0]
            for t in tind {
                if ap {
                    for r in 0..<R {
                        for k in 0..<K {
                            let v = precision[(((t * R + r) * K + k) * A + a) * M + m]
                            if v > -1 { values.append(v) }
                        }
                    }
                } else {
                    for k in 0..<K {
                        let v = recall[((t * K + k) * A + a) * M + m]
                        if v > -1 { values.append(v) }
                    }
                }
            }
        }
        let value = values.isEmpty ? -1 : numpyMean(values)
        return Line(averagePrecision: ap, iouThreshold: iou, area: area, maxDets: maxDets, value: value)
    }
}

/// numpy's mean of a 1-D float64 array: pairwise summation (blocks of 8, 128), then / n.
func numpyMean(_ a: [Double]) -> Double {
    a.withUnsafeBufferPointer { pairwiseSum($0.baseAddress!, a.count) } / Double(a.count)
}

func pairwiseSum(_ a: UnsafePointer<Double>, _ n: Int) -> Double {
    if n < 8 {
        var res = 0.0
        for i in 0..<n { res += a[i] }
        return res
    }
    if n <= 128 {
        var r0 = a[0], r1 = a[1], r2 = a[2], r3 = a[3], r4 = a[4], r5 = a[5], r6 = a[6], r7 = a[7]
        var i = 8
        while i < n - n % 8 {
            r0 += a[i]; r1 += a[i + 1]; r2 += a[i + 2]; r3 += a[i + 3]
            r4 += a[i + 4]; r5 += a[i + 5]; r6 += a[i + 6]; r7 += a[i + 7]
            i += 8
        }
        let left = (r0 + r1) + (r2 + r3)
        let right = (r4 + r5) + (r6 + r7)
        var res = left + right
        while i < n { res += a[i]; i += 1 }
        return res
    }
    var n2 = n / 2
    n2 -= n2 % 8
    return pairwiseSum(a, n2) + pairwiseSum(a + n2, n - n2)
}

private func leftPad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
}

private func rightAlign(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
}
