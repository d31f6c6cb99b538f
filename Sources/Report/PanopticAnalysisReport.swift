import Datasets
import Eval
import Foundation

/// `report.html` of `get-map panoptic --analysis DIR --report`: one self-contained page (no
/// figure, nothing loaded) with panopticapi's All / Things / Stuff table and the sortable
/// per-category table (PQ, SQ, RQ, TP, FP, FN; zeros where a category has no segment).
public struct PanopticAnalysisReport {
    public var result: PanopticResult
    public var title = "Panoptic quality per category"

    public init(result: PanopticResult) {
        self.result = result
    }

    public func html() -> String {
        var out = "<h2 id=\"summary\">Summary</h2>\n" + summary()
        out += "<h2 id=\"per-category\">Per category</h2>\n" + perCategoryTable()
        return HTML.page(title: title, body: out)
    }

    /// The image count and panopticapi's table (percent, 1 decimal).
    func summary() -> String {
        var out = "<p>\(result.imageCount) images, \(result.categories.count) categories (panopticapi's pq_compute).</p>\n"
        out += "<table id=\"pq-summary\"><thead><tr><th></th><th>PQ</th><th>SQ</th><th>RQ</th><th>N</th></tr></thead><tbody>\n"
        for (name, s) in [("All", result.all), ("Things", result.things), ("Stuff", result.stuff)] {
            out += "<tr><td>\(name)</td>" + [s.pq, s.sq, s.rq].map { "<td>\(String(format: "%.1f", 100 * $0))</td>" }.joined()
                + "<td>\(s.n)</td></tr>\n"
        }
        return out + "</tbody></table>\n"
    }

    /// Every category, sortable by clicking a header.
    func perCategoryTable() -> String {
        var out = "<p class=\"note\">PQ, SQ and RQ in percent; a category without any segment (no TP, FP or FN) shows zeros "
            + "and is not in the averages. Click a header to sort.</p>\n"
        out += "<div class=\"scroll\"><table id=\"per-category-table\" class=\"sortable\"><thead><tr>"
            + ["category", "id", "kind", "PQ", "SQ", "RQ", "TP", "FP", "FN"].map { "<th>\($0)</th>" }.joined()
            + "</tr></thead><tbody>\n"
        for r in result.perCategoryRows {
            func percent(_ v: Double) -> String { HTML.numberCell(String(format: "%.1f", 100 * v), v) }
            func count(_ v: Int) -> String { HTML.numberCell(String(v), Double(v)) }
            out += "<tr><td>\(HTML.escape(r.category.name))</td>" + count(r.category.id)
                + "<td>\(r.category.isThing == 1 ? "thing" : "stuff")</td>"
                + percent(r.scores.pq) + percent(r.scores.sq) + percent(r.scores.rq)
                + count(r.stat.tp) + count(r.stat.fp) + count(r.stat.fn) + "</tr>\n"
        }
        return out + "</tbody></table></div>\n"
    }
}
