import Datasets
import Foundation

// Text outputs of panoptic quality: panopticapi's printed table and the JSON of
// `get-map panoptic --json`.

extension PanopticResult {
    /// panopticapi's table:
    ///
    ///           |    PQ     SQ     RQ     N
    ///     --------------------------------------
    ///     All       |  23.3   30.8   31.6    14
    public func tableText() -> String {
        func pad(_ s: String, _ w: Int, right: Bool) -> String {
            let fill = String(repeating: " ", count: max(0, w - s.count))
            return right ? fill + s : s + fill
        }
        var s = "\(pad("", 10, right: false))| \(pad("PQ", 5, right: true))  \(pad("SQ", 5, right: true))  "
        s += "\(pad("RQ", 5, right: true)) \(pad("N", 5, right: true))\n"
        s += String(repeating: "-", count: 10 + 7 * 4) + "\n"
        for (name, r) in [("All", all), ("Things", things), ("Stuff", stuff)] {
            s += "\(pad(name, 10, right: false))| \(pad(fixed1(100 * r.pq), 5, right: true))  "
            s += "\(pad(fixed1(100 * r.sq), 5, right: true))  \(pad(fixed1(100 * r.rq), 5, right: true)) "
            s += "\(pad(String(r.n), 5, right: true))\n"
        }
        return s
    }

    /// All numbers as JSON, fractions in [0, 1]:
    /// `{"All": {"pq", "sq", "rq", "n"}, "Things": ..., "Stuff": ..., "per_class": {name: {"pq", "sq", "rq"}}}`.
    /// per_class holds every ground-truth category (zeros where it has no TP, FP or FN, as
    /// panopticapi reports them); a repeated name is suffixed with its category id.
    public func jsonText() -> String {
        func scores(_ r: PanopticScores) -> String {
            "{\"pq\": \(jsonNumber(r.pq)), \"sq\": \(jsonNumber(r.sq)), \"rq\": \(jsonNumber(r.rq)), \"n\": \(r.n)}"
        }
        var s = "{\n  \"All\": \(scores(all)),\n  \"Things\": \(scores(things)),\n  \"Stuff\": \(scores(stuff)),\n"
        s += "  \"n_images\": \(imageCount),\n  \"per_class\": {"
        var seen = Set<String>()
        for (i, entry) in perCategory.enumerated() {
            var name = entry.category.name
            if seen.contains(name) { name += " (id \(entry.category.id))" }
            seen.insert(name)
            let st = stats[entry.category.id] ?? PanopticCategoryStat()
            s += i == 0 ? "\n" : ",\n"
            s += "    \(jsonString(name)): {\"pq\": \(jsonNumber(entry.scores.pq)), \"sq\": \(jsonNumber(entry.scores.sq)), "
            s += "\"rq\": \(jsonNumber(entry.scores.rq)), \"id\": \(entry.category.id), \"isthing\": \(entry.category.isThing == 1), "
            s += "\"tp\": \(st.tp), \"fp\": \(st.fp), \"fn\": \(st.fn)}"
        }
        s += perCategory.isEmpty ? "}\n}\n" : "\n  }\n}\n"
        return s
    }
}

extension PanopticResult {
    /// The per-category rows: the category, its scores (0 where it has no TP, FP or FN, as
    /// panopticapi reports them) and its counts, in the ground truth's category order.
    public var perCategoryRows: [(category: PanopticCategory, scores: PanopticScores, stat: PanopticCategoryStat)] {
        perCategory.map { ($0.category, $0.scores, stats[$0.category.id] ?? PanopticCategoryStat()) }
    }

    /// The per-category table as aligned text: PQ, SQ and RQ in percent (1 decimal, as the
    /// summary table), TP, FP and FN. Categories without any segment (no TP, FP or FN) are
    /// left out and counted in the title line; the CSV has them all.
    public func perCategoryText() -> String {
        let rows = perCategoryRows.filter { $0.stat.tp + $0.stat.fp + $0.stat.fn > 0 }
        let header = ["category", "id", "kind", "PQ", "SQ", "RQ", "TP", "FP", "FN"]
        let body = [header] + rows.map { r in
            [r.category.name, String(r.category.id), r.category.isThing == 1 ? "thing" : "stuff",
             formatFixed(100 * r.scores.pq, 1), formatFixed(100 * r.scores.sq, 1), formatFixed(100 * r.scores.rq, 1),
             String(r.stat.tp), String(r.stat.fp), String(r.stat.fn)]
        }
        var widths = [Int](repeating: 0, count: header.count)
        for row in body { for (j, cell) in row.enumerated() { widths[j] = max(widths[j], cell.count) } }
        let left = perCategory.count - rows.count
        var out = "Per category (PQ, SQ, RQ in percent" + (left > 0 ? "; \(left) categories without segments left out" : "") + ")\n"
        for row in body {
            let padded = row.enumerated().map { j, cell in
                let pad = String(repeating: " ", count: widths[j] - cell.count)
                return j == 0 || j == 2 ? cell + pad : pad + cell
            }
            out += padded.joined(separator: "  ") + "\n"
        }
        return out
    }

    /// Every category as CSV (`category_id,category,isthing,pq,sq,rq,tp,fp,fn,iou`), fractions
    /// in full precision, iou the summed IoU of its true positives; names quoted when needed.
    public var perCategoryCSV: String {
        var out = "category_id,category,isthing,pq,sq,rq,tp,fp,fn,iou\n"
        for r in perCategoryRows {
            out += [String(r.category.id), csvField(r.category.name), String(r.category.isThing),
                    "\(r.scores.pq)", "\(r.scores.sq)", "\(r.scores.rq)",
                    String(r.stat.tp), String(r.stat.fp), String(r.stat.fn), "\(r.stat.iou)"].joined(separator: ",") + "\n"
        }
        return out
    }
}
