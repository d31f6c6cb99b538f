import Datasets
import Foundation

/// The per-class table: COCOeval's per-category AP, AP50 and AP75 (its precision slices), and
/// at a score threshold the precision, recall and F1 of the detections matched at IoU 0.5,
/// with the numbers of ground truths and detections.
public struct PerClassTable: Sendable {
    public struct Row: Sendable {
        public var categoryId: Int64
        public var name: String
        /// Fractions in [0, 1]; -1 without ground truth (as pycocotools).
        public var ap: Double
        public var ap50: Double
        public var ap75: Double
        public var counts: COCOCategoryCounts

        public init(categoryId: Int64, name: String, ap: Double, ap50: Double, ap75: Double, counts: COCOCategoryCounts) {
            self.categoryId = categoryId
            self.name = name
            self.ap = ap
            self.ap50 = ap50
            self.ap75 = ap75
            self.counts = counts
        }
    }

    public var scoreThreshold: Double
    public var rows: [Row]

    /// The table of an evaluation made by `COCOEvaluator.runCounting(scoreThreshold:)` (IoU
    /// 0.5); categories named from `categories` (by id when unnamed).
    public init(result: COCOEvalResult, counts: [COCOCategoryCounts], categories: [COCOCategory], scoreThreshold: Double) {
        var name: [Int64: String] = [:]
        for c in categories { name[c.id] = c.name }
        let all = result.perCategoryAP(iouThreshold: nil)
        let at50 = result.perCategoryAP(iouThreshold: 0.5)
        let at75 = result.perCategoryAP(iouThreshold: 0.75)
        var countOf: [Int64: COCOCategoryCounts] = [:]
        for c in counts { countOf[c.categoryId] = c }
        self.scoreThreshold = scoreThreshold
        rows = all.indices.map { i in
            let id = all[i].categoryId
            return Row(categoryId: id, name: name[id] ?? String(id), ap: all[i].ap, ap50: at50[i].ap, ap75: at75[i].ap,
                       counts: countOf[id] ?? COCOCategoryCounts(categoryId: id, groundTruths: 0, detections: 0,
                                                                 truePositives: 0, falsePositives: 0))
        }
    }

    static let header = ["category", "AP", "AP50", "AP75", "P", "R", "F1", "GT", "dets", "TP", "FP"]

    /// A text row: APs in percent (1 decimal), P / R / F1 as fractions (3 decimals).
    static func textCells(_ r: Row) -> [String] {
        func ap(_ v: Double) -> String { v < 0 ? "nan" : formatFixed(v * 100, 1) }
        func ratio(_ v: Double) -> String { v.isNaN ? "nan" : formatFixed(v, 3) }
        let c = r.counts
        return [r.name, ap(r.ap), ap(r.ap50), ap(r.ap75), ratio(c.precision), ratio(c.recall), ratio(c.f1),
                String(c.groundTruths), String(c.detections), String(c.truePositives), String(c.falsePositives)]
    }

    /// Aligned text with a title line naming the score threshold.
    public var text: String {
        let body = [Self.header] + rows.map(Self.textCells)
        var widths = [Int](repeating: 0, count: Self.header.count)
        for row in body { for (j, cell) in row.enumerated() { widths[j] = max(widths[j], cell.count) } }
        var out = "Per class (P, R, F1 at score > \(scoreThreshold), IoU 0.5)\n"
        for row in body {
            let padded = row.enumerated().map { j, cell in
                let pad = String(repeating: " ", count: widths[j] - cell.count)
                return j == 0 ? cell + pad : pad + cell
            }
            out += padded.joined(separator: "  ") + "\n"
        }
        return out
    }

    /// CSV with a header line (category_id, category, ap, ap50, ap75, precision, recall, f1,
    /// ground_truths, detections, true_positives, false_positives), fractions written in full
    /// precision, "nan" where undefined; names quoted when they hold a comma or a quote.
    public var csv: String {
        var out = "category_id,category,ap,ap50,ap75,precision,recall,f1,ground_truths,detections,true_positives,false_positives\n"
        func number(_ v: Double, undefined: Bool) -> String { undefined || v.isNaN ? "nan" : "\(v)" }
        for r in rows {
            let c = r.counts
            let fields = [String(r.categoryId), csvField(r.name), number(r.ap, undefined: r.ap < 0),
                          number(r.ap50, undefined: r.ap50 < 0), number(r.ap75, undefined: r.ap75 < 0),
                          number(c.precision, undefined: false), number(c.recall, undefined: false), number(c.f1, undefined: false),
                          String(c.groundTruths), String(c.detections), String(c.truePositives), String(c.falsePositives)]
            out += fields.joined(separator: ",") + "\n"
        }
        return out
    }
}

/// A CSV field: quoted (quotes doubled) when it holds a comma, a quote or a line break.
func csvField(_ s: String) -> String {
    guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
    return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}
