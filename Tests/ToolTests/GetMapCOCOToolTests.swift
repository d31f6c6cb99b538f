import Foundation
import TestSupport
import XCTest

/// `get-map coco` end to end on the shared val2014_100 pair (published pycocotools stats).
final class GetMapCOCOToolTests: XCTestCase {
    func testCOCOBBox_PublishedStats() throws {
        let shared = try TestPaths.shared("coco/val2014_100", requiring: "instances_val2014_100.json")
        let dir = URL(fileURLWithPath: try makeTemporaryDirectory("getmap-coco"))
        let json = dir.appendingPathComponent("stats.json").path
        let r = try ToolRunner.run("get-map", ["coco", "--gt", shared + "/instances_val2014_100.json",
                                               "--dt", shared + "/instances_val2014_fakebbox100_results.json", "--json", json])
        XCTAssertEqual(r.status, 0, r.stderr)
        // pycocotools' printed summary, first line (val2014_fake_eval_res.txt).
        XCTAssertTrue(r.stdout.contains(" Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.505"), r.stdout)
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as! [String: Any]
        let stats = report["stats"] as! [Double]
        XCTAssertEqual(stats.count, 12)
        XCTAssertEqual(stats[0], 0.5045806987249628, accuracy: 1e-12)
        XCTAssertEqual(stats[11], 0.5642905982905982, accuracy: 1e-12)
        XCTAssertNotNil((report["per_category"] as? [String: Any])?["person"])

        let bad = try ToolRunner.run("get-map", ["coco", "--gt", shared + "/instances_val2014_100.json", "--dt", "/nonexistent/r.json"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("/nonexistent/r.json"), bad.stderr)
    }
}
