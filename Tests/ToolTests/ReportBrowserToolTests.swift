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
}
