import Datasets
import Eval
import Plots
@testable import Report
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

    /// The sentence on why TIDE's AP differs from COCOeval's AP50 appears only when the two
    /// differ: the generated case (a class with detections and no ground truth) against its own
    /// ground truth as detections (both 100).
    func testTIDEDifference_OnlyWhenTheAPsDiffer() throws {
        let (gt, results, differing) = try AnalysisSamples.tideGenerated()
        XCTAssertNotEqual(String(format: "%.2f", differing.tide.ap), String(format: "%.2f", differing.cocoAP50))
        let why = try XCTUnwrap(differing.tideDifference)
        XCTAssertTrue(differing.summaryText.contains(why))
        let differingPage = AnalysisReport(analysis: differing, groundTruth: gt, results: results, figures: []).html()
        XCTAssertTrue(differingPage.contains("id=\"tide-difference\""))

        let perfect = gt.annotations.filter { !$0.isCrowd }.map {
            COCOResult(imageId: $0.imageId, categoryId: $0.categoryId, bbox: $0.bbox, score: 1)
        }
        let equal = try DetectionAnalysis(groundTruth: gt, results: perfect)
        XCTAssertEqual(equal.tide.ap, 100, accuracy: 1e-9)
        XCTAssertEqual(equal.cocoAP50, 100, accuracy: 1e-9)
        XCTAssertNil(equal.tideDifference)
        XCTAssertFalse(equal.summaryText.contains("TIDE averages"), equal.summaryText)
        let page = AnalysisReport(analysis: equal, groundTruth: gt, results: perfect, figures: []).html()
        XCTAssertFalse(page.contains("id=\"tide-difference\""))
        XCTAssertFalse(page.contains("TIDE averages"))
        XCTAssertTrue(page.contains("TIDE AP50 100.00</b>, COCOeval AP50 100.00"))
    }

    /// A segm analysis: every section, and the worst images drawn with their masks tinted (the
    /// middle of a ground-truth mask is no longer the image's plain fill).
    func testSegmPage_DrawsMasks() throws {
        let (gt, results, analysis) = try AnalysisSamples.tideGeneratedSegm()
        XCTAssertEqual(analysis.tide.params.mode, .mask)
        let dir = try makeTemporaryDirectory("detrkit-report-masks")
        let fill: (UInt8, UInt8, UInt8) = (90, 110, 130)
        for im in gt.images {
            try ImageIO.save(RGBImage(width: im.width, height: im.height, fill: fill), to: dir + "/" + im.fileName)
        }
        let html = AnalysisReport(analysis: analysis, groundTruth: gt, results: results,
                                  figures: try AnalysisPlots.figures(analysis), imagesDirectory: dir).html()
        for id in ["summary", "per-class-table", "curves", "confusion", "tide-table", "worst-images"] {
            XCTAssertTrue(html.contains("id=\"\(id)\""), id)
        }
        XCTAssertEqual(count("src=\"data:image/png;base64,", in: html), 4)
        XCTAssertEqual(count("data:image/jpeg;base64,", in: html), analysis.worstImages(20).count)
        XCTAssertFalse(html.contains(": not shown ("))

        let worst = try XCTUnwrap(analysis.worstImages(20).first { w in gt.annotations.contains { $0.imageId == w.imageId && !$0.isCrowd } })
        let a = gt.annotations.first { $0.imageId == worst.imageId && !$0.isCrowd }!
        let im = gt.images.first { $0.id == worst.imageId }!
        let mask = RLE(segmentation: a.segmentation!, height: im.height, width: im.width)!.decodeRowMajor()
        let drawn = try WorstImages(analysis: analysis, groundTruth: gt, results: results, imagesDirectory: dir, count: 20)
            .drawn(imageId: worst.imageId, path: dir + "/" + im.fileName)
        // The mask pixel nearest the mask's centre of mass.
        let on = mask.indices.filter { mask[$0] != 0 }
        let cx = Double(on.map { $0 % im.width }.reduce(0, +)) / Double(on.count)
        let cy = Double(on.map { $0 / im.width }.reduce(0, +)) / Double(on.count)
        let p = on.min { a, b in
            func d(_ i: Int) -> Double { pow(Double(i % im.width) - cx, 2) + pow(Double(i / im.width) - cy, 2) }
            return d(a) < d(b)
        }!
        let pixel = (drawn.pixels[3 * p], drawn.pixels[3 * p + 1], drawn.pixels[3 * p + 2])
        XCTAssertFalse(pixel == fill, "pixel \(p) of image \(worst.imageId) is not tinted")
    }
}
