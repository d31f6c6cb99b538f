import Datasets
import Foundation
import TestSupport
import XCTest

/// `get-map coco --analysis DIR --report --images DIR`'s page in a real browser (headless
/// Chromium over the DevTools protocol): no console error, every image decoded, and the
/// per-class table sorted by a click on a header. Skipped only where no Chromium is installed
/// (`make test` installs Debian's chromium-headless-shell); one that fails to start fails.
final class ReportBrowserToolTests: XCTestCase {
    func testReport_LoadsAndSortsInHeadlessChromium() throws {
        guard let chromium = HeadlessChromium.binary() else {
            print("ReportBrowserToolTests: skipped, no Chromium binary (apt-get install chromium-headless-shell)")
            throw XCTSkip("no Chromium binary (apt-get install chromium-headless-shell)")
        }
        let work = try makeTemporaryDirectory("report-browser")
        let gt = try COCOInstances.load(AnalysisSamples.casesFolder + "/tide-generated_gt.json")
        try FileManager.default.createDirectory(atPath: work + "/images", withIntermediateDirectories: true)
        for im in gt.images {
            try ImageIO.save(RGBImage(width: im.width, height: im.height, fill: (70, 90, 110)), to: work + "/images/" + im.fileName)
        }
        let r = try ToolRunner.run("get-map", ["coco", "--gt", AnalysisSamples.casesFolder + "/tide-generated_gt.json",
                                               "--dt", AnalysisSamples.casesFolder + "/tide-generated_dt.json",
                                               "--analysis", work + "/analysis", "--report", "--images", work + "/images"])
        XCTAssertEqual(r.status, 0, r.stderr)

        let browser = try HeadlessChromium(binary: chromium, profile: work + "/profile", logPath: work + "/chromium.log")
        defer { browser.shutDown() }
        do {
            try browser.openPage()
        } catch {
            let log = (try? String(contentsOfFile: work + "/chromium.log", encoding: .utf8)) ?? ""
            XCTFail("\(chromium) did not start: \(error)\n\(log.suffix(2000))")
            return
        }
        try browser.load(URL(fileURLWithPath: work + "/analysis/report.html").absoluteString)

        // Every image decoded: the 4 figures and the worst images drawn as JPEGs.
        let images = try XCTUnwrap(browser.evaluate(
            "Array.from(document.images).map(function (i) { return i.complete ? i.naturalWidth : 0; })") as? [Int])
        XCTAssertGreaterThan(images.count, 4)
        XCTAssertTrue(images.allSatisfy { $0 > 0 }, "natural widths \(images)")
        XCTAssertEqual(try browser.evaluate("document.querySelectorAll('script[src], link, iframe').length") as? Int, 0)

        // A click on AP50 sorts ascending (classes without AP last), a second descending.
        func column(_ k: Int) throws -> [String] {
            try XCTUnwrap(browser.evaluate("""
                Array.from(document.querySelectorAll('#per-class-table tbody tr')).map(function (r) {
                  var c = r.cells[\(k)]; return c.hasAttribute('data-value') ? c.getAttribute('data-value') : c.textContent; })
                """) as? [String])
        }
        func click(_ k: Int) throws {
            _ = try browser.evaluate("""
                document.querySelectorAll('#per-class-table thead th')[\(k)]
                  .dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true})); true
                """)
        }
        let before = try column(2).compactMap(Double.init)
        XCTAssertGreaterThanOrEqual(before.count, 2)
        try click(2)
        var after = try column(2)
        XCTAssertEqual(after.compactMap(Double.init), before.sorted(), "\(after)")
        XCTAssertEqual(after.last.flatMap(Double.init) == nil, after.contains(""), "empty values sort last: \(after)")
        XCTAssertEqual(try browser.evaluate("document.querySelectorAll('#per-class-table th')[2].getAttribute('aria-sort')") as? String,
                       "ascending")
        try click(2)
        after = try column(2)
        XCTAssertEqual(after.compactMap(Double.init), before.sorted(by: >), "\(after)")
        // The class names sort as text.
        try click(0)
        let names = try column(0)
        XCTAssertEqual(names, names.sorted { $0.lowercased() < $1.lowercased() })

        XCTAssertEqual(browser.errors, [], "console errors, exceptions or failed loads")
        // The collector does see errors: one made on purpose.
        _ = try browser.evaluate("console.error('self-check'); setTimeout(function () { null.x; }, 0); 1")
        _ = try browser.evaluate("new Promise(function (done) { setTimeout(done, 50); })")
        XCTAssertEqual(browser.errors.count, 2, "\(browser.errors)")
    }

    /// Starts Chromium and loads `page`, or fails the test when an installed Chromium does not
    /// start (nil then).
    func open(_ page: String, chromium: String, work: String) throws -> HeadlessChromium? {
        let browser = try HeadlessChromium(binary: chromium, profile: work + "/profile", logPath: work + "/chromium.log")
        do {
            try browser.openPage()
        } catch {
            browser.shutDown()
            let log = (try? String(contentsOfFile: work + "/chromium.log", encoding: .utf8)) ?? ""
            XCTFail("\(chromium) did not start: \(error)\n\(log.suffix(2000))")
            return nil
        }
        try browser.load(URL(fileURLWithPath: page).absoluteString)
        return browser
    }

    /// The segm analysis' page (worst images drawn with their masks): every image decoded, no
    /// console error.
    func testSegmReport_LoadsInHeadlessChromium() throws {
        guard let chromium = HeadlessChromium.binary() else {
            print("ReportBrowserToolTests: skipped, no Chromium binary (apt-get install chromium-headless-shell)")
            throw XCTSkip("no Chromium binary (apt-get install chromium-headless-shell)")
        }
        let work = try makeTemporaryDirectory("report-browser-segm")
        let gt = try COCOInstances.load(AnalysisSamples.casesFolder + "/tide-generated-segm_gt.json")
        try FileManager.default.createDirectory(atPath: work + "/images", withIntermediateDirectories: true)
        for im in gt.images {
            try ImageIO.save(RGBImage(width: im.width, height: im.height, fill: (70, 90, 110)), to: work + "/images/" + im.fileName)
        }
        let r = try ToolRunner.run("get-map", ["coco", "--gt", AnalysisSamples.casesFolder + "/tide-generated-segm_gt.json",
                                               "--dt", AnalysisSamples.casesFolder + "/tide-generated-segm_dt.json", "--iou-type", "segm",
                                               "--analysis", work + "/analysis", "--report", "--images", work + "/images"])
        XCTAssertEqual(r.status, 0, r.stderr)
        guard let browser = try open(work + "/analysis/report.html", chromium: chromium, work: work) else { return }
        defer { browser.shutDown() }
        let images = try XCTUnwrap(browser.evaluate(
            "Array.from(document.images).map(function (i) { return i.complete ? i.naturalWidth : 0; })") as? [Int])
        XCTAssertGreaterThan(images.count, 4)
        XCTAssertTrue(images.allSatisfy { $0 > 0 }, "natural widths \(images)")
        XCTAssertEqual(browser.errors, [], "console errors, exceptions or failed loads")
    }

    /// `get-map panoptic --analysis DIR --report`'s page: no console error, and the
    /// per-category table sorts by PQ on a click.
    func testPanopticReport_LoadsAndSortsInHeadlessChromium() throws {
        guard let chromium = HeadlessChromium.binary() else {
            print("ReportBrowserToolTests: skipped, no Chromium binary (apt-get install chromium-headless-shell)")
            throw XCTSkip("no Chromium binary (apt-get install chromium-headless-shell)")
        }
        let root = try TestPaths.shared("panoptic")
        let work = try makeTemporaryDirectory("report-browser-panoptic")
        let c = root + "/cases/shift_drop_relabel"
        let r = try ToolRunner.run("get-map", ["panoptic", "--gt-json", root + "/sample/panoptic_examples.json",
                                               "--gt-folder", root + "/sample/panoptic_examples", "--pred-json", c + "/pred_shift.json",
                                               "--pred-folder", c + "/pred_shift", "--analysis", work + "/pq", "--report"], in: work)
        XCTAssertEqual(r.status, 0, r.stderr)
        guard let browser = try open(work + "/pq/report.html", chromium: chromium, work: work) else { return }
        defer { browser.shutDown() }
        func column(_ k: Int) throws -> [Double] {
            try XCTUnwrap(browser.evaluate("""
                Array.from(document.querySelectorAll('#per-category-table tbody tr')).map(function (r) {
                  return r.cells[\(k)].getAttribute('data-value'); })
                """) as? [String]).compactMap(Double.init)
        }
        let before = try column(3)
        XCTAssertEqual(before.count, 133)
        _ = try browser.evaluate("""
            document.querySelectorAll('#per-category-table thead th')[3]
              .dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true})); true
            """)
        XCTAssertEqual(try column(3), before.sorted())
        XCTAssertEqual(browser.errors, [], "console errors, exceptions or failed loads")
    }
}
