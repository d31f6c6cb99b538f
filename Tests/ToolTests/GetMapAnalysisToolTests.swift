import Datasets
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

    /// `get-map voc --analysis DIR --report` on the generated TIDE case written as VOC text
    /// folders (crowds as difficult objects): TIDE equals tidecv's numbers for the COCO files,
    /// and the per-class table equals `get-map coco --analysis`'s, class by class.
    func testVOCAnalysis_EqualsTheCOCOAnalysisOfTheSameCase() throws {
        let cases = TestPaths.repositoryRoot + "/Tests/EvalTests/Fixtures/cases"
        let work = try makeTemporaryDirectory("getmap-analysis-voc")
        let gt = try COCOInstances.load(cases + "/tide-generated_gt.json")
        let dt = try COCOResults.load(cases + "/tide-generated_dt.json", groundTruth: gt).results
        var name: [Int64: String] = [:]
        for c in gt.categories { name[c.id] = c.name }
        try FileIO.makeDirectories(work + "/ground-truth")
        try FileIO.makeDirectories(work + "/detection-results")
        for im in gt.images {
            let stem = String(im.fileName.dropLast(4))
            let truths = gt.annotations.filter { $0.imageId == im.id }.map { a in
                let b = a.bbox!
                return "\(name[a.categoryId]!) \(b.x) \(b.y) \(b.x + b.width) \(b.y + b.height)" + (a.isCrowd ? " difficult" : "")
            }
            let dets = dt.filter { $0.imageId == im.id }.map { r in
                let b = r.bbox!
                return "\(name[r.categoryId]!) \(r.score) \(b.x) \(b.y) \(b.x + b.width) \(b.y + b.height)"
            }
            try (truths.map { $0 + "\n" }.joined()).write(toFile: work + "/ground-truth/\(stem).txt", atomically: true, encoding: .utf8)
            try (dets.map { $0 + "\n" }.joined()).write(toFile: work + "/detection-results/\(stem).txt", atomically: true, encoding: .utf8)
        }
        let images = work + "/images"
        try FileIO.makeDirectories(images)
        for im in gt.images { try ImageIO.save(RGBImage(width: im.width, height: im.height, fill: (90, 110, 130)), to: images + "/" + im.fileName) }
        let r = try ToolRunner.run("get-map", ["voc", "--gt", work + "/ground-truth", "--dr", work + "/detection-results", "--out", work + "/out",
                                               "--no-plots", "--analysis", work + "/voc", "--report", "--images", images])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("mAP = "), r.stdout)   // the VOC mAP still comes first
        XCTAssertTrue(r.stdout.contains("bbox AP @ 50: "), r.stdout)

        let reference = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: cases + "/../tide_reference.json"))) as! [String: Any]
        let expected = (reference["cases"] as! [[String: Any]]).first { $0["name"] as? String == "generated" }!
        let tide = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: work + "/voc/tide.json"))) as! [String: Any]
        XCTAssertEqual(tide["ap"] as! Double, expected["ap"] as! Double, accuracy: 1e-6)
        for (kind, value) in expected["main"] as! [String: Double] {
            XCTAssertEqual((tide["main"] as! [String: Double])[kind]!, value, accuracy: 1e-6, kind)
        }
        for (kind, value) in expected["special"] as! [String: Double] {
            XCTAssertEqual((tide["special"] as! [String: Double])[kind]!, value, accuracy: 1e-6, kind)
        }

        let coco = try ToolRunner.run("get-map", ["coco", "--gt", cases + "/tide-generated_gt.json", "--dt", cases + "/tide-generated_dt.json",
                                                  "--analysis", work + "/coco"])
        XCTAssertEqual(coco.status, 0, coco.stderr)
        /// per_class.csv by class name, without the category id (the VOC view numbers classes by name).
        func rows(_ dir: String) throws -> [String: String] {
            let lines = try String(contentsOfFile: dir + "/per_class.csv", encoding: .utf8).split(separator: "\n").dropFirst()
            var out: [String: String] = [:]
            for l in lines {
                let fields = l.split(separator: ",", omittingEmptySubsequences: false)
                out[String(fields[1])] = fields.dropFirst(2).joined(separator: ",")
            }
            return out
        }
        let vocRows = try rows(work + "/voc"), cocoRows = try rows(work + "/coco")
        XCTAssertEqual(vocRows.count, 4)
        XCTAssertEqual(vocRows, cocoRows)
        let html = try String(contentsOfFile: work + "/voc/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("id=\"per-class-table\""))
        XCTAssertTrue(html.contains("data:image/jpeg;base64,"))
        XCTAssertFalse(html.contains(": not shown ("))
    }
}
