import Datasets
import Eval
import Plots
import Report
import TestSupport
import XCTest

/// report.html's contents: self-contained (no address it would load), every section, the
/// sortable tables, names escaped, and the worst images drawn when their folder is given.
final class AnalysisReportTests: XCTestCase {
    func page(imagesDirectory: String?) throws -> (String, DetectionAnalysis) {
        var (gt, results, analysis) = try AnalysisSamples.tideGenerated()
        gt.categories[0].name = "<b>circle</b> & co"   // escaped in the table
        analysis.categories = gt.categories
        analysis.perClass.rows[0].name = gt.categories[0].name
        let report = AnalysisReport(analysis: analysis, groundTruth: gt, results: results,
                                    figures: try AnalysisPlots.figures(analysis), imagesDirectory: imagesDirectory)
        return (report.html(), analysis)
    }

    func count(_ needle: String, in html: String) -> Int { html.components(separatedBy: needle).count - 1 }

    func testPage_IsSelfContainedWithEverySection() throws {
        let (html, analysis) = try page(imagesDirectory: nil)
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>"))
        for external in ["http://", "https://", "<link", "src=\"/", "src=\"file:", "@import", "url("] {
            XCTAssertFalse(html.contains(external), external)
        }
        XCTAssertEqual(count("src=\"data:image/png;base64,", in: html), 4)
        XCTAssertEqual(count("<script>", in: html), 1)
        for id in ["summary", "per-class-table", "curves", "confusion", "tide-table", "worst-images"] {
            XCTAssertTrue(html.contains("id=\"\(id)\""), id)
        }
        XCTAssertTrue(html.contains("&lt;b&gt;circle&lt;/b&gt; &amp; co"))
        XCTAssertFalse(html.contains("<b>circle</b>"))
        XCTAssertTrue(html.contains(String(format: "TIDE AP50 %.2f", analysis.tide.ap)))
        XCTAssertTrue(html.contains("Run with --images DIR"))
        XCTAssertFalse(html.contains("data:image/jpeg"))
    }

    func testPage_DrawsTheWorstImagesFromTheirFolder() throws {
        let dir = try makeTemporaryDirectory("detrkit-report-images")
        let gt = try COCOInstances.load(AnalysisSamples.casesFolder + "/tide-generated_gt.json")
        for im in gt.images.dropFirst() {   // the first image is missing: said, not fatal
            try ImageIO.save(RGBImage(width: im.width, height: im.height, fill: (90, 110, 130)), to: dir + "/" + im.fileName)
        }
        let (html, analysis) = try page(imagesDirectory: dir)
        let worst = analysis.worstImages(20)
        let missing = worst.contains { $0.imageId == gt.images[0].id } ? 1 : 0
        XCTAssertEqual(count("data:image/jpeg;base64,", in: html), worst.count - missing)
        XCTAssertEqual(count(": not shown (", in: html), missing)
    }
}
