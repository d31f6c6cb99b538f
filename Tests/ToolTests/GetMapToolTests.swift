import Foundation
import TestSupport
import XCTest

/// End-to-end runs of the built get-map tool on temporary copies of the shared data.
final class GetMapToolTests: XCTestCase {
    /// A writable copy of the Cartucho sample's two text folders under `dir/map_out`.
    func copyCartucho(into dir: String) throws -> String {
        let src = try TestPaths.shared("map/cartucho_sample")
        let out = dir + "/map_out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        for sub in ["ground-truth", "detection-results"] {
            try FileManager.default.createDirectory(atPath: out + "/" + sub, withIntermediateDirectories: true)
            for name in try FileManager.default.contentsOfDirectory(atPath: src + "/" + sub) {
                let text = try String(contentsOfFile: src + "/" + sub + "/" + name, encoding: .utf8)
                try text.write(toFile: out + "/" + sub + "/" + name, atomically: true, encoding: .utf8)
            }
        }
        return out
    }

    func readJSON(_ path: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
    }

    func testVOC_Cartucho() throws {
        let dir = try makeTemporaryDirectory("detrkit-tool")
        let out = try copyCartucho(into: dir)
        let r = try ToolRunner.run("get-map", ["voc", "--gt", out + "/ground-truth", "--dr", out + "/detection-results", "--json", dir + "/m.json"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasSuffix("mAP = 31.05%\n"), r.stdout)
        XCTAssertTrue(r.stdout.contains("85.94% = bed AP \t||\tscore_threhold=0.5 : F1=0.77 ; Recall=62.50% ; Precision=100.00%"), r.stdout)
        let json = try readJSON(dir + "/m.json")
        XCTAssertEqual(json["mAP"] as! Double, 0.31047718500906324, accuracy: 1e-12)
        XCTAssertEqual(json["iou"] as! Double, 0.5)
        let perClass = json["per_class"] as! [String: [String: Any]]
        XCTAssertEqual(perClass.count, 30)
        XCTAssertEqual(perClass["chair"]!["ap"] as! Double, 0.5384346220032401, accuracy: 1e-12)
        XCTAssertEqual(perClass["chair"]!["tp"] as! Int, 73)
        XCTAssertEqual(perClass["chair"]!["n_det"] as! Int, 135)
        XCTAssertEqual(perClass["chair"]!["n_gt"] as! Int, 106)
        for key in ["precision", "recall", "f1"] { XCTAssertNotNil(perClass["bed"]![key] as? Double, key) }
        // Default --out is map_out (relative to the working directory).
        let results = out + "/results"
        let text = try String(contentsOfFile: results + "/results.txt", encoding: .utf8)
        XCTAssertTrue(text.contains("\n# mAP of all classes\nmAP = 31.05%\n"), text)
        for f in ["mAP.png", "ground-truth-info.png", "AP/chair.png", "F1/chair.png", "Recall/chair.png", "Precision/chair.png", "AP/doll.png"] {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: results + "/" + f))
            XCTAssertEqual(Array(bytes.prefix(4)), [0x89, 0x50, 0x4E, 0x47], f)
        }

        let r75 = try ToolRunner.run("get-map", ["voc", "--iou", "0.75", "--no-plots", "--json", dir + "/m75.json"], in: dir)
        XCTAssertEqual(r75.status, 0, r75.stderr)
        XCTAssertEqual(try readJSON(dir + "/m75.json")["mAP"] as! Double, 0.12110114378290794, accuracy: 1e-12)
        XCTAssertTrue(r75.stdout.hasSuffix("mAP = 12.11%\n"), r75.stdout)

        let r11 = try ToolRunner.run("get-map", ["voc", "--eleven-point", "--no-plots", "--json", dir + "/m11.json"], in: dir)
        XCTAssertEqual(r11.status, 0, r11.stderr)
        XCTAssertEqual(try readJSON(dir + "/m11.json")["eleven_point"] as! Bool, true)
    }

    func testVOC_BadInputs() throws {
        let dir = try makeTemporaryDirectory("detrkit-tool")
        let missing = try ToolRunner.run("get-map", ["voc", "--gt", dir + "/nope", "--dr", dir + "/nope2"], in: dir)
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains(dir + "/nope: cannot read: no such directory"), missing.stderr)
        XCTAssertEqual(missing.stderr.split(separator: "\n").count, 1, missing.stderr)

        let gt = dir + "/map_out/ground-truth", dr = dir + "/map_out/detection-results"
        try FileManager.default.createDirectory(atPath: gt, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dr, withIntermediateDirectories: true)
        try "cat 1 2 3 4\n".write(toFile: gt + "/a.txt", atomically: true, encoding: .utf8)
        try "cat 0.9 1 2 three 4\n".write(toFile: dr + "/a.txt", atomically: true, encoding: .utf8)
        let bad = try ToolRunner.run("get-map", ["voc"], in: dir)
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("map_out/detection-results/a.txt:1: right 'three' is not a finite number"), bad.stderr)

        try "cat 0.9 1 2 3 4\n".write(toFile: dr + "/a.txt", atomically: true, encoding: .utf8)
        try "cat 1 2 3\n".write(toFile: gt + "/a.txt", atomically: true, encoding: .utf8)
        let malformed = try ToolRunner.run("get-map", ["voc"], in: dir)
        XCTAssertNotEqual(malformed.status, 0)
        XCTAssertTrue(malformed.stderr.contains("map_out/ground-truth/a.txt:1:"), malformed.stderr)

        let badIoU = try ToolRunner.run("get-map", ["voc", "--iou", "1.5"], in: dir)
        XCTAssertNotEqual(badIoU.status, 0)
        XCTAssertTrue(badIoU.stderr.contains("--iou"), badIoU.stderr)
    }

    func testPanoptic_SharedCaseAndSample() throws {
        let root = try TestPaths.shared("panoptic")
        let dir = try makeTemporaryDirectory("detrkit-tool")
        let c = root + "/cases/shift_drop_relabel"
        let r = try ToolRunner.run("get-map", ["panoptic", "--gt-json", root + "/sample/panoptic_examples.json", "--gt-folder", root + "/sample/panoptic_examples",
                         "--pred-json", c + "/pred_shift.json", "--pred-folder", c + "/pred_shift", "--json", dir + "/pq.json"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("All       |  23.3   30.8   31.6    14\n"), r.stdout)
        let json = try readJSON(dir + "/pq.json")
        let all = json["All"] as! [String: Any]
        XCTAssertEqual(all["pq"] as! Double, 0.23325674111513303, accuracy: 1e-9)
        XCTAssertEqual(all["n"] as! Int, 14)
        XCTAssertEqual((json["Things"] as! [String: Any])["pq"] as! Double, 0.11441553824101769, accuracy: 1e-9)
        XCTAssertEqual((json["Stuff"] as! [String: Any])["pq"] as! Double, 0.5303597483004214, accuracy: 1e-9)
        XCTAssertNotNil((json["per_class"] as! [String: Any])["person"])
        // The per-category table after panopticapi's (the 14 categories with segments).
        XCTAssertTrue(r.stdout.contains("Per category (PQ, SQ, RQ in percent; 119 categories without segments left out)"), r.stdout)
        let analysis = try ToolRunner.run("get-map", ["panoptic", "--gt-json", root + "/sample/panoptic_examples.json", "--gt-folder", root + "/sample/panoptic_examples",
                                "--pred-json", c + "/pred_shift.json", "--pred-folder", c + "/pred_shift", "--analysis", dir + "/pq", "--report"], in: dir)
        XCTAssertEqual(analysis.status, 0, analysis.stderr)
        let csv = try String(contentsOfFile: dir + "/pq/per_class.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.count, 134)   // header + the sample's 133 categories
        let page = try String(contentsOfFile: dir + "/pq/report.html", encoding: .utf8)
        XCTAssertTrue(page.contains("id=\"per-category-table\""))
        let noAnalysis = try ToolRunner.run("get-map", ["panoptic", "--gt-json", root + "/sample/panoptic_examples.json", "--pred-json", c + "/pred_shift.json", "--report"], in: dir)
        XCTAssertNotEqual(noAnalysis.status, 0)
        XCTAssertTrue(noAnalysis.stderr.contains("--report needs --analysis"), noAnalysis.stderr)

        // The sample against itself, folders defaulting to the JSON paths without .json.
        let same = try ToolRunner.run("get-map", ["panoptic", "--gt-json", root + "/sample/panoptic_examples.json",
                            "--pred-json", root + "/sample/panoptic_examples.json"], in: dir)
        XCTAssertEqual(same.status, 0, same.stderr)
        XCTAssertTrue(same.stdout.contains("All       | 100.0  100.0  100.0     8\n"), same.stdout)
    }

    func testPanoptic_BadInputs() throws {
        let root = try TestPaths.shared("panoptic")
        let dir = try makeTemporaryDirectory("detrkit-tool")
        try "{\"annotations\": 3}".write(toFile: dir + "/bad.json", atomically: true, encoding: .utf8)
        let bad = try ToolRunner.run("get-map", ["panoptic", "--gt-json", root + "/sample/panoptic_examples.json", "--gt-folder", root + "/sample/panoptic_examples",
                           "--pred-json", dir + "/bad.json", "--pred-folder", dir], in: dir)
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains(dir + "/bad.json: invalid panoptic JSON"), bad.stderr)
        XCTAssertEqual(bad.stderr.split(separator: "\n").count, 1, bad.stderr)

        // Predictions whose PNGs are missing.
        let pred = root + "/cases/shift_drop_relabel/pred_shift.json"
        let noPNG = try ToolRunner.run("get-map", ["panoptic", "--gt-json", root + "/sample/panoptic_examples.json", "--gt-folder", root + "/sample/panoptic_examples",
                             "--pred-json", pred, "--pred-folder", dir], in: dir)
        XCTAssertNotEqual(noPNG.status, 0)
        XCTAssertTrue(noPNG.stderr.contains(dir + "/000000142238.png"), noPNG.stderr)

        let noDir = try ToolRunner.run("get-map", ["panoptic", "--gt-json", root + "/sample/panoptic_examples.json", "--pred-json", pred, "--pred-folder", dir + "/x"], in: dir)
        XCTAssertNotEqual(noDir.status, 0)
        XCTAssertTrue(noDir.stderr.contains(dir + "/x: no such directory"), noDir.stderr)
    }

    func testHelp_ListsModes() throws {
        let r = try ToolRunner.run("get-map", ["--help"], in: NSTemporaryDirectory())
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stdout.contains("voc") && r.stdout.contains("panoptic"), r.stdout)
        let v = try ToolRunner.run("get-map", ["voc", "--help"], in: NSTemporaryDirectory())
        XCTAssertTrue(v.stdout.contains("--score-threshold") && v.stdout.contains("--eleven-point"), v.stdout)
    }
}
