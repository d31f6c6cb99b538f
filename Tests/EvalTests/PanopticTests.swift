import Datasets
@testable import Eval
import Foundation
import TestSupport
import XCTest

final class PanopticTests: XCTestCase {
    /// (ground-truth JSON, ground-truth folder, prediction JSON, prediction folder) of a shared case.
    func caseFiles(_ name: String) throws -> (String, String, String, String) {
        let root = try TestPaths.shared("panoptic")
        let dir = root + "/cases/" + name
        let entries = try FileManager.default.contentsOfDirectory(atPath: dir)
        let json = entries.filter { $0.hasSuffix(".json") && $0 != "expected_panopticapi.json" }
        let gtJSON = json.first { $0.contains("_gt") }
        let predJSON = json.first { !$0.contains("_gt") }!
        let pred = dir + "/" + predJSON
        if let gtJSON {
            let gt = dir + "/" + gtJSON
            return (gt, String(gt.dropLast(5)), pred, String(pred.dropLast(5)))
        }
        // Predictions against the panopticapi sample.
        return (root + "/sample/panoptic_examples.json", root + "/sample/panoptic_examples", pred, String(pred.dropLast(5)))
    }

    func expected(_ name: String) throws -> [String: Any] {
        let root = try TestPaths.shared("panoptic")
        let data = try Data(contentsOf: URL(fileURLWithPath: root + "/cases/" + name + "/expected_panopticapi.json"))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    func assertScores(_ r: PanopticScores, _ e: Any?, _ label: String, line: UInt = #line) {
        guard let e = e as? [String: Any] else { return XCTFail("no expected \(label)", line: line) }
        XCTAssertEqual(r.pq, e["pq"] as! Double, accuracy: 1e-9, "\(label) pq", line: line)
        XCTAssertEqual(r.sq, e["sq"] as! Double, accuracy: 1e-9, "\(label) sq", line: line)
        XCTAssertEqual(r.rq, e["rq"] as! Double, accuracy: 1e-9, "\(label) rq", line: line)
        XCTAssertEqual(r.n, e["n"] as! Int, "\(label) n", line: line)
    }

    func testSharedCases_MatchPanopticapi() throws {
        for name in ["sample_2ch_converted", "shift_drop_relabel", "mmdet_synthetic", "torchmetrics_doc"] {
            let (gj, gf, pj, pf) = try caseFiles(name)
            let e = try expected(name)
            for threads in [1, 2] {
                let r = try PanopticQuality.evaluate(groundTruthJSON: gj, groundTruthFolder: gf, predictionJSON: pj,
                                                     predictionFolder: pf, threads: threads)
                assertScores(r.all, e["All"], "\(name) All")
                assertScores(r.things, e["Things"], "\(name) Things")
                assertScores(r.stuff, e["Stuff"], "\(name) Stuff")
                if let perClass = e["per_class"] as? [String: [String: Double]] {
                    for (id, v) in perClass {
                        let c = r.perCategory.first { String($0.category.id) == id }!
                        XCTAssertEqual(c.scores.pq, v["pq"]!, accuracy: 1e-9, "\(name) class \(id)")
                    }
                }
            }
        }
    }

    /// Every category's PQ, SQ, RQ, TP, FP, FN and summed IoU against panopticapi's per_class
    /// output and PQStat (scripts/fixtures/panoptic_per_class_reference.py), and the CSV and text
    /// tables built from them.
    func testSharedCases_PerCategoryMatchesPanopticapi() throws {
        let root = try FixtureJSON.load("panoptic_per_class_reference.json") as! [String: Any]
        let cases = root["cases"] as! [String: [String: Any]]
        XCTAssertEqual(cases.count, 4)
        for (name, c) in cases.sorted(by: { $0.key < $1.key }) {
            let expected = c["per_class"] as! [String: [String: NSNumber]]
            let (gj, gf, pj, pf) = try caseFiles(name)
            let r = try PanopticQuality.evaluate(groundTruthJSON: gj, groundTruthFolder: gf, predictionJSON: pj,
                                                 predictionFolder: pf, threads: 2)
            let rows = r.perCategoryRows
            XCTAssertEqual(rows.count, expected.count, name)
            var scored = 0
            for row in rows {
                let e = try XCTUnwrap(expected[String(row.category.id)], "\(name): category \(row.category.id)")
                let label = "\(name) category \(row.category.id)"
                XCTAssertEqual(row.scores.pq, e["pq"]!.doubleValue, accuracy: 1e-9, "\(label) pq")
                XCTAssertEqual(row.scores.sq, e["sq"]!.doubleValue, accuracy: 1e-9, "\(label) sq")
                XCTAssertEqual(row.scores.rq, e["rq"]!.doubleValue, accuracy: 1e-9, "\(label) rq")
                XCTAssertEqual(row.stat.iou, e["iou"]!.doubleValue, accuracy: 1e-9, "\(label) iou")
                XCTAssertEqual([row.stat.tp, row.stat.fp, row.stat.fn], [e["tp"]!.intValue, e["fp"]!.intValue, e["fn"]!.intValue], label)
                if row.stat.tp + row.stat.fp + row.stat.fn > 0 { scored += 1 }
            }
            XCTAssertEqual(scored, r.all.n, name)
            let csv = r.perCategoryCSV.split(separator: "\n")
            XCTAssertEqual(csv.first, "category_id,category,isthing,pq,sq,rq,tp,fp,fn,iou")
            XCTAssertEqual(csv.count, rows.count + 1, name)
            for (line, row) in zip(csv.dropFirst(), rows) {
                let f = line.split(separator: ",", omittingEmptySubsequences: false)
                XCTAssertEqual(Int(f[0]), row.category.id)
                XCTAssertEqual(Double(String(f[3])), row.scores.pq)
            }
            // The printed table: a title line, a header and one line per category with segments.
            XCTAssertEqual(r.perCategoryText().split(separator: "\n").count, scored + 2, name)
        }
    }

    func testSampleAgainstItself_IsPerfect() throws {
        let root = try TestPaths.shared("panoptic/sample")
        let r = try PanopticQuality.evaluate(groundTruthJSON: root + "/panoptic_examples.json", groundTruthFolder: root + "/panoptic_examples",
                                             predictionJSON: root + "/panoptic_examples.json", predictionFolder: root + "/panoptic_examples")
        for s in [r.all, r.things, r.stuff] {
            XCTAssertEqual(s.pq, 1.0, accuracy: 1e-12)
            XCTAssertEqual(s.sq, 1.0, accuracy: 1e-12)
            XCTAssertEqual(s.rq, 1.0, accuracy: 1e-12)
        }
        XCTAssertEqual(r.all.n, 8)
        XCTAssertEqual(r.imageCount, 2)
        let table = r.tableText()
        XCTAssertEqual(table, """
                  |    PQ     SQ     RQ     N
        --------------------------------------
        All       | 100.0  100.0  100.0     8
        Things    | 100.0  100.0  100.0     4
        Stuff     | 100.0  100.0  100.0     4

        """)
        let json = r.jsonText()
        XCTAssertTrue(json.contains("\"All\": {\"pq\": 1.0, \"sq\": 1.0, \"rq\": 1.0, \"n\": 8}"), json)
        XCTAssertTrue(json.contains("\"person\": {\"pq\": 1.0"), json)
    }

    // MARK: small synthetic images

    func map(_ rows: [[UInt32]]) -> PanopticQuality.SegmentMap {
        PanopticQuality.SegmentMap(width: rows[0].count, height: rows.count, ids: rows.flatMap { $0 })
    }

    let cats: Set<Int> = [1, 2]

    func testCrowdAndVoid_IgnoreUnmatchedPredictions() throws {
        // GT: segment 1 (cat 1) left half, crowd 2 (cat 1) right half. Pred: 10 covers the left
        // half (TP), 11 lies on the crowd (ignored), 12 lies on void (ignored).
        let gt = map([[1, 1, 2, 2, 0, 0],
                      [1, 1, 2, 2, 0, 0]])
        let pred = map([[10, 10, 11, 11, 12, 12],
                        [10, 10, 11, 11, 12, 12]])
        let gs = [PanopticSegment(id: 1, categoryID: 1, area: 4), PanopticSegment(id: 2, categoryID: 1, isCrowd: 1, area: 4)]
        let ps = [PanopticSegment(id: 10, categoryID: 1), PanopticSegment(id: 11, categoryID: 1), PanopticSegment(id: 12, categoryID: 2)]
        let s = try PanopticQuality.evaluateImage(groundTruth: gt, groundTruthSegments: gs, prediction: pred,
                                                  predictionSegments: ps, categories: cats)
        XCTAssertEqual(s[1], PanopticCategoryStat(iou: 1, tp: 1, fp: 0, fn: 0))
        XCTAssertNil(s[2])
        // The same prediction on a crowd of another category is a false positive.
        let ps2 = [PanopticSegment(id: 10, categoryID: 1), PanopticSegment(id: 11, categoryID: 2), PanopticSegment(id: 12, categoryID: 2)]
        let s2 = try PanopticQuality.evaluateImage(groundTruth: gt, groundTruthSegments: gs, prediction: pred,
                                                   predictionSegments: ps2, categories: cats)
        XCTAssertEqual(s2[2]?.fp, 1)
    }

    func testIoUAtHalf_IsNotAMatch() throws {
        // Pred covers 2 of 4 GT pixels and 0 others: IoU 2/4 = 0.5, not > 0.5.
        let gt = map([[1, 1, 1, 1]])
        let pred = map([[5, 5, 6, 6]])
        let s = try PanopticQuality.evaluateImage(groundTruth: gt, groundTruthSegments: [PanopticSegment(id: 1, categoryID: 1, area: 4)],
                                                  prediction: pred, predictionSegments: [PanopticSegment(id: 5, categoryID: 1), PanopticSegment(id: 6, categoryID: 2)],
                                                  categories: cats)
        XCTAssertEqual(s[1], PanopticCategoryStat(iou: 0, tp: 0, fp: 1, fn: 1))
        XCTAssertEqual(s[2], PanopticCategoryStat(iou: 0, tp: 0, fp: 1, fn: 0))
        let r = PanopticQuality.summarize(stats: s, categories: [PanopticCategory(id: 1, name: "a", isThing: 1),
                                                                 PanopticCategory(id: 2, name: "b", isThing: 0),
                                                                 PanopticCategory(id: 3, name: "c", isThing: 0)], imageCount: 1)
        XCTAssertEqual(r.all.n, 2)
        XCTAssertEqual(r.all.pq, 0)
        XCTAssertEqual(r.perCategory.map(\.category.name), ["a", "b", "c"])
    }

    func testInconsistentPredictions_AreErrors() {
        let gt = map([[1, 1]])
        let gs = [PanopticSegment(id: 1, categoryID: 1, area: 2)]
        func run(_ pred: [[UInt32]], _ ps: [PanopticSegment]) throws {
            _ = try PanopticQuality.evaluateImage(groundTruth: gt, groundTruthSegments: gs, prediction: map(pred),
                                                  predictionSegments: ps, categories: cats, predictionPath: "p.png")
        }
        XCTAssertThrowsError(try run([[7, 7]], [])) { XCTAssertTrue("\($0)".contains("p.png: segment id 7 is in the PNG"), "\($0)") }
        XCTAssertThrowsError(try run([[7, 7]], [PanopticSegment(id: 7, categoryID: 1), PanopticSegment(id: 8, categoryID: 1)])) {
            XCTAssertTrue("\($0)".contains("[8] are in the JSON"), "\($0)")
        }
        XCTAssertThrowsError(try run([[7, 7]], [PanopticSegment(id: 7, categoryID: 9)])) { XCTAssertTrue("\($0)".contains("unknown category_id 9"), "\($0)") }
        XCTAssertThrowsError(try run([[7, 7, 7]], [PanopticSegment(id: 7, categoryID: 1)])) { XCTAssertTrue("\($0)".contains("differs"), "\($0)") }
        // Void pixels in the prediction need no segment.
        XCTAssertNoThrow(try run([[0, 7]], [PanopticSegment(id: 7, categoryID: 1)]))
    }

    func testJSONReader_ValuesAndPlaces() throws {
        let doc = #"""
        {"info": {"x": [1, {"y": null}]}, "annotations": [
          {"image_id": 139, "file_name": "a\u00e9\/b.png", "extra": [1, 2],
           "segments_info": [{"id": 3937500, "category_id": 1.0, "iscrowd": null, "area": 3528.5, "bbox": [1, 2, 3, 4]},
                             {"id": 7, "category_id": 2, "iscrowd": 1}]},
          {"image_id": "000285", "segments_info": [], "file_name": "c.png"}],
         "categories": [{"id": 1, "name": "person", "isthing": 1}, {"id": 2, "isthing": null}]}
        """#
        let p = try COCOPanoptic.decode(Array(doc.utf8), path: "doc.json")
        XCTAssertEqual(p.annotations.count, 2)
        XCTAssertEqual(p.annotations[0].imageID, .int(139))
        XCTAssertEqual(p.annotations[0].fileName, "a\u{e9}/b.png")
        XCTAssertEqual(p.annotations[0].segments, [PanopticSegment(id: 3937500, categoryID: 1, isCrowd: 0, area: 3528.5,
                                                                   bbox: COCOBox(x: 1, y: 2, width: 3, height: 4)),
                                                   PanopticSegment(id: 7, categoryID: 2, isCrowd: 1, area: nil)])
        XCTAssertEqual(p.annotations[1].imageID, .string("000285"))
        XCTAssertEqual(p.categories, [PanopticCategory(id: 1, name: "person", isThing: 1), PanopticCategory(id: 2, name: "2", isThing: 0)])
        XCTAssertEqual(try COCOPanoptic.decode(Array(#"{"annotations": []}"#.utf8), path: "e.json").categories, [])

        func reason(_ text: String) -> String {
            do {
                _ = try COCOPanoptic.decode(Array(text.utf8), path: "bad.json")
                return "no error"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertTrue(reason(#"{"annotations": [{"image_id": 1, "file_name": "a.png", "segments_info": [{"id": 1}]}]}"#)
            .contains("missing key 'category_id' at .annotations[0].segments_info[0]"))
        XCTAssertTrue(reason(#"{"annotations": [{"image_id": 1, "file_name": 5, "segments_info": []}]}"#)
            .contains("expected a string at .annotations[0].file_name, found a number"))
        XCTAssertTrue(reason(#"{"annotations": [{"image_id": 1.5, "file_name": "a", "segments_info": []}]}"#)
            .contains("expected an integer at .annotations[0].image_id"))
        XCTAssertTrue(reason(#"{"categories": []}"#).contains("missing key 'annotations'"))
        XCTAssertTrue(reason(#"[1]"#).contains("expected an object at the top level"))
        XCTAssertTrue(reason("{\"annotations\": []}\n x").hasPrefix("bad.json: invalid panoptic JSON: line 2"))

        // Every proper prefix is an error naming the file; byte changes never trap.
        let bytes = Array(doc.utf8)
        for n in 0..<bytes.count {
            XCTAssertThrowsError(try COCOPanoptic.decode(Array(bytes[0..<n]), path: "cut.json"), "prefix \(n)") {
                XCTAssertTrue("\($0)".hasPrefix("cut.json: invalid panoptic JSON"), "\($0)")
            }
        }
        var state: UInt64 = 12345
        for _ in 0..<2000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            var b = bytes
            b[Int(state >> 33) % b.count] = [UInt8(ascii: "\""), UInt8(ascii: "{"), UInt8(ascii: "]"), UInt8(ascii: ","), 0x5C, 0xFF, UInt8(ascii: "9")][Int(state & 7) % 7]
            _ = try? COCOPanoptic.decode(b, path: "mutated.json")
        }
    }

    func testBadFiles_NameTheFile() throws {
        let dir = try makeTemporaryDirectory("detrkit-pq")
        try "{\"annotations\": [{\"image_id\": 1, \"file_name\": \"a.png\"}]}".write(toFile: dir + "/bad.json", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try COCOPanoptic.load(dir + "/bad.json")) {
            XCTAssertTrue("\($0)".contains(dir + "/bad.json") && "\($0)".contains("segments_info"), "\($0)")
        }
        try "{\"annotations\": [".write(toFile: dir + "/trunc.json", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try COCOPanoptic.load(dir + "/trunc.json")) { XCTAssertTrue("\($0)".contains(dir + "/trunc.json"), "\($0)") }
        XCTAssertThrowsError(try COCOPanoptic.load(dir + "/none.json")) { XCTAssertTrue("\($0)".contains(dir + "/none.json"), "\($0)") }

        // A ground-truth image without prediction, and a missing PNG.
        let gt = COCOPanoptic(annotations: [PanopticAnnotation(imageID: .int(1), fileName: "a.png", segments: [])],
                              categories: [PanopticCategory(id: 1, name: "a", isThing: 1)])
        let pred = COCOPanoptic(annotations: [PanopticAnnotation(imageID: .int(2), fileName: "a.png", segments: [])], categories: [])
        XCTAssertThrowsError(try PanopticQuality.evaluate(groundTruth: gt, groundTruthFolder: dir, prediction: pred,
                                                          predictionFolder: dir, predictionJSON: "p.json")) {
            XCTAssertEqual("\($0)", "p.json: no prediction for the image with id 1")
        }
        XCTAssertThrowsError(try PanopticQuality.evaluate(groundTruth: gt, groundTruthFolder: dir, prediction: gt,
                                                          predictionFolder: dir)) {
            XCTAssertTrue("\($0)".contains(dir + "/a.png"), "\($0)")
        }
    }
}
