import Foundation
import TestSupport
import XCTest

/// `get-map coco --analysis DIR` end to end on the generated TIDE case of EvalTests (its
/// tidecv numbers in tide_reference.json).
final class GetMapAnalysisToolTests: XCTestCase {
    func testCOCOAnalysis_WritesTheFilesAndPrintsTIDE() throws {
        let cases = TestPaths.repositoryRoot + "/Tests/EvalTests/Fixtures/cases"
        let dir = try makeTemporaryDirectory("getmap-analysis") + "/analysis"
        let r = try ToolRunner.run("get-map", ["coco", "--gt", cases + "/tide-generated_gt.json",
                                               "--dt", cases + "/tide-generated_dt.json", "--analysis", dir])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("bbox AP @ 50: 21.94"), r.stdout)   // tidecv: 21.93701513008444
        XCTAssertTrue(r.stdout.contains("Per class (P, R, F1 at score > 0.25, IoU 0.5)"), r.stdout)
        let tide = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/tide.json"))) as! [String: Any]
        XCTAssertEqual(tide["ap"] as! Double, 21.93701513008444, accuracy: 1e-9)
        XCTAssertEqual((tide["main"] as! [String: Double])["Miss"]!, 10.957845784578481, accuracy: 1e-9)
        let perClass = try String(contentsOfFile: dir + "/per_class.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(perClass.count, 5)   // header + circle, square, triangle, star
        let confusion = try String(contentsOfFile: dir + "/confusion.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(confusion.first, "predicted\\true,circle,square,triangle,star,background")
        XCTAssertEqual(confusion.count, 6)
        for name in ["confusion_normalised.csv", "pr_curve.png", "f1_curve.png", "confusion_matrix.png", "tide_errors.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/" + name), name)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/report.html"))

        // --report: the page beside the files, the worst images as ids and counts without --images.
        let report = try ToolRunner.run("get-map", ["coco", "--gt", cases + "/tide-generated_gt.json",
                                                    "--dt", cases + "/tide-generated_dt.json", "--analysis", dir, "--report"])
        XCTAssertEqual(report.status, 0, report.stderr)
        let html = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("id=\"worst-images\""))
        XCTAssertFalse(html.contains("data:image/jpeg"))
        for (args, message) in [(["--report"], "--report needs --analysis"), (["--analysis", dir, "--images", dir], "--images goes with --report"),
                                (["--analysis", dir, "--report", "--images", dir + "/absent"], "no such folder")] {
            let bad = try ToolRunner.run("get-map", ["coco", "--gt", cases + "/tide-generated_gt.json", "--dt", cases + "/tide-generated_dt.json"] + args)
            XCTAssertNotEqual(bad.status, 0, "\(args)")
            XCTAssertTrue(bad.stderr.contains(message), bad.stderr)
        }

        let noCategories = try ToolRunner.run("get-map", ["coco", "--gt", cases + "/tide-generated_gt.json", "--dt", cases + "/tide-generated_dt.json",
                                                          "--no-categories", "--analysis", dir])
        XCTAssertNotEqual(noCategories.status, 0)
        XCTAssertTrue(noCategories.stderr.contains("--analysis needs categories"), noCategories.stderr)
    }

    /// `--iou-type segm --analysis DIR --report` on the generated mask case: TIDE in mask mode
    /// (tidecv's numbers in tide_reference.json), the per-class table and matrix of its 3 classes.
    func testCOCOSegmAnalysis_TIDEOnMasks() throws {
        let cases = TestPaths.repositoryRoot + "/Tests/EvalTests/Fixtures/cases"
        let reference = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: cases + "/../tide_reference.json"))) as! [String: Any]
        let expected = (reference["cases"] as! [[String: Any]]).first { $0["name"] as? String == "generated-segm" }!
        let dir = try makeTemporaryDirectory("getmap-analysis-segm") + "/analysis"
        let r = try ToolRunner.run("get-map", ["coco", "--gt", cases + "/tide-generated-segm_gt.json", "--dt", cases + "/tide-generated-segm_dt.json",
                                               "--iou-type", "segm", "--analysis", dir, "--report"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("Evaluate annotation type *segm*"), r.stdout)
        XCTAssertTrue(r.stdout.contains(String(format: "mask AP @ 50: %.2f", expected["ap"] as! Double)), r.stdout)
        let tide = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/tide.json"))) as! [String: Any]
        XCTAssertEqual(tide["mode"] as? String, "mask")
        XCTAssertEqual(tide["ap"] as! Double, expected["ap"] as! Double, accuracy: 1e-6)
        for (kind, value) in expected["main"] as! [String: Double] {
            XCTAssertEqual((tide["main"] as! [String: Double])[kind]!, value, accuracy: 1e-6, kind)
        }
        let perClass = try String(contentsOfFile: dir + "/per_class.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(perClass.count, 4)   // header + blob, bar, ring
        let confusion = try String(contentsOfFile: dir + "/confusion.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(confusion.first, "predicted\\true,blob,bar,ring,background")
        let html = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("id=\"worst-images\""))
    }
}
