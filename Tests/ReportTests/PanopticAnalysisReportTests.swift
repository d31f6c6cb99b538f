import Datasets
import Eval
import Report
import TestSupport
import XCTest

/// The panoptic report page: self-contained, panopticapi's summary and the sortable
/// per-category table with every category (zeros for one without segments), names escaped.
final class PanopticAnalysisReportTests: XCTestCase {
    func testPage_SummaryAndEveryCategory() {
        let categories = [PanopticCategory(id: 1, name: "person <a>", isThing: 1), PanopticCategory(id: 7, name: "sky", isThing: 0),
                          PanopticCategory(id: 9, name: "car", isThing: 1)]
        // person: 2 TP with IoU 0.8 + 0.6, 1 FP, 1 FN -> SQ 0.7, RQ 2 / 3, PQ 1.4 / 3; sky: 1 TP, IoU 0.9; car: none.
        let stats = [1: PanopticCategoryStat(iou: 1.4, tp: 2, fp: 1, fn: 1), 7: PanopticCategoryStat(iou: 0.9, tp: 1, fp: 0, fn: 0)]
        let result = PanopticQuality.summarize(stats: stats, categories: categories, imageCount: 3)
        XCTAssertEqual(result.all.pq, (1.4 / 3 + 0.9) / 2, accuracy: 1e-12)
        let html = PanopticAnalysisReport(result: result).html()
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>"))
        for external in ["http://", "https://", "<link", "src=", "@import", "url("] {
            XCTAssertFalse(html.contains(external), external)
        }
        XCTAssertEqual(html.components(separatedBy: "<script>").count - 1, 1)
        for id in ["summary", "pq-summary", "per-category", "per-category-table"] {
            XCTAssertTrue(html.contains("id=\"\(id)\""), id)
        }
        XCTAssertTrue(html.contains("<tr><td>All</td><td>68.3</td><td>80.0</td><td>83.3</td><td>2</td></tr>"), html)
        XCTAssertTrue(html.contains("person &lt;a&gt;"))
        XCTAssertFalse(html.contains("person <a>"))
        let body = html.components(separatedBy: "id=\"per-category-table\"")[1]
        XCTAssertEqual(body.components(separatedBy: "<tr><td>").count - 1, 3)   // car too, with zeros
        XCTAssertTrue(body.contains("<tr><td>car</td><td data-value=\"9.0\">9</td><td>thing</td><td data-value=\"0.0\">0.0</td>"), body)
        XCTAssertTrue(body.contains("<td data-value=\"0.4666666666666666\">46.7</td>") || body.contains("<td data-value=\"0.4666666666666667\">46.7</td>"), body)
    }
}
