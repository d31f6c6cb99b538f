import Datasets
import Eval
import Foundation
import TestSupport
import XCTest

/// The COCO JSON readers: values, validation rules and errors that name the file and index.
final class COCOReaderTests: XCTestCase {
    let gtText = """
    {"info": {"x": [1, {"y": "\\u00e9\\"q"}]}, "images": [{"id": 1, "width": 40, "height": 30, "file_name": "a\\u00e9.jpg"},
      {"id": 9, "width": 10, "height": 10, "file_name": "b.jpg"}],
     "categories": [{"id": 90, "name": "zebra", "supercategory": "animal"}, {"id": 2, "name": "bike"}],
     "annotations": [
      {"id": 5, "image_id": 1, "category_id": 90, "bbox": [1.5, 2, 10, 2e1], "area": 200.25, "iscrowd": 0,
       "segmentation": [[1, 2, 11, 2, 11, 22]]},
      {"id": 6, "image_id": 9, "category_id": 2, "bbox": [0, 0, 3, 3], "area": 9, "iscrowd": 1,
       "segmentation": {"size": [10, 10], "counts": [0, 3, 7, 3, 87]}},
      {"id": 7, "image_id": 9, "category_id": 2, "bbox": [0, 0, 3, 3], "area": 9, "iscrowd": 0,
       "segmentation": {"size": [10, 10], "counts": "03:3Q2"}}
     ]}
    """

    func gt() throws -> COCOInstances { try COCOInstances.parse(Array(gtText.utf8), path: "gt.json") }

    func results(_ text: String, lenient: Bool = false) throws -> COCOResults {
        try COCOResults.parse(Array(text.utf8), path: "dt.json", groundTruth: try gt(), lenient: lenient)
    }

    func testInstances_ReadsEveryKindOfField() throws {
        let g = try gt()
        XCTAssertEqual(g.images, [COCOImage(id: 1, width: 40, height: 30, fileName: "a\u{e9}.jpg"),
                                  COCOImage(id: 9, width: 10, height: 10, fileName: "b.jpg")])
        XCTAssertEqual(g.categories.map(\.id), [90, 2])
        XCTAssertEqual(g.categories[0].supercategory, "animal")
        XCTAssertEqual(g.annotations[0].bbox, COCOBox(x: 1.5, y: 2, width: 10, height: 20))
        XCTAssertEqual(g.annotations[0].area, 200.25)
        XCTAssertEqual(g.annotations[0].segmentation, .polygons([[1, 2, 11, 2, 11, 22]]))
        XCTAssertEqual(g.annotations[1].isCrowd, true)
        XCTAssertEqual(g.annotations[1].segmentation, .uncompressedRLE(height: 10, width: 10, counts: [0, 3, 7, 3, 87]))
        XCTAssertEqual(g.annotations[2].segmentation, .compressedRLE(height: 10, width: 10, counts: Array("03:3Q2".utf8)))
        XCTAssertTrue(g.warnings.isEmpty, "\(g.warnings)")
    }

    func testJSONNumbers_AreCorrectlyRounded() throws {
        let table: [(String, Double)] = [
            ("0.1", 0.1), ("-2.5e-3", -2.5e-3), ("123456789012345678901234", 123456789012345678901234.0),
            ("0.30000000000000004", 0.30000000000000004), ("1e308", 1e308), ("4.9406564584124654e-324", 4.9406564584124654e-324),
            ("6759.74747", 6759.74747), ("1E2", 100), ("-0", -0.0), ("NaN", .nan), ("-Infinity", -.infinity),
            ("3.14159265358979323846264338327950288", 3.14159265358979323846264338327950288),
        ]
        for (text, want) in table {
            let got = try JSONScanner.withScanner(Array(text.utf8), path: "n.json") { try $0.readDouble() }
            if want.isNaN { XCTAssertTrue(got.isNaN, text) } else {
                XCTAssertEqual(got.bitPattern, want.bitPattern, "\(text): expected \(want), observed \(got)")
            }
        }
    }

    func testMalformedJSON_ErrorNamesFileAndLine() {
        let table: [(String, String)] = [
            ("{\"images\": [\n{\"id\": 1,}]}", "gt.json:2"),
            ("{\"images\": [", "unterminated"),
            ("{\"images\": []} x", "after the top-level value"),
            ("{\"images\": [{\"id\": \"abc\"}]}", "images[0].id"),
            ("{\"categories\": []}", "images: missing"),
            ("{\"images\": [], \"annotations\": [{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 2, 3]}]}", "annotations[0].bbox"),
        ]
        for (text, fragment) in table {
            do {
                _ = try COCOInstances.parse(Array(text.utf8), path: "gt.json")
                XCTFail("\(text): expected an error containing '\(fragment)'")
            } catch let e as COCOError {
                XCTAssertTrue("\(e)".contains("gt.json") && "\(e)".contains(fragment), "\(text): message '\(e)' lacks '\(fragment)'")
            } catch {
                XCTFail("\(text): unexpected error \(error)")
            }
        }
    }

    func testResults_InvalidEntriesAreErrorsNamingTheIndex() {
        let table: [(String, String)] = [
            ("[{\"image_id\": 1, \"category_id\": 2, \"bbox\": [0, 0, 1, 1], \"score\": 0.5}, {\"image_id\": 4, \"category_id\": 2, \"bbox\": [0, 0, 1, 1], \"score\": 0.5}]",
             "result 1: image_id 4 is not in the ground truth"),
            ("[{\"image_id\": 1, \"category_id\": 2, \"bbox\": [0, 0, NaN, 1], \"score\": 0.5}]", "result 0: bbox"),
            ("[{\"image_id\": 1, \"category_id\": 2, \"bbox\": [0, 0, 1, 1], \"score\": 0.5}, {\"image_id\": 1, \"category_id\": 2, \"bbox\": [0, 0, -1, 1], \"score\": 0.5}]",
             "result 1: bbox [0.0, 0.0, -1.0, 1.0] has a negative size"),
            ("[{\"image_id\": 1, \"category_id\": 2, \"bbox\": [0, 0, 1, 1]}]", "result 0: no score"),
            ("[{\"image_id\": 1, \"category_id\": 2, \"score\": 1}]", "result 0: neither bbox nor segmentation"),
            ("{\"image_id\": 1}", "a JSON list"),
        ]
        for (text, fragment) in table {
            do {
                _ = try results(text)
                XCTFail("expected an error containing '\(fragment)'")
            } catch let e as COCOError {
                XCTAssertTrue("\(e)".hasPrefix("dt.json") && "\(e)".contains(fragment), "message '\(e)' lacks '\(fragment)'")
            } catch {
                XCTFail("unexpected error \(error)")
            }
        }
    }

    func testResults_LenientSkipsAndCounts() throws {
        let r = try results("""
        [{"image_id": 1, "category_id": 2, "bbox": [0, 0, 1, 1], "score": 0.5},
         {"image_id": 4, "category_id": 2, "bbox": [0, 0, 1, 1], "score": 0.5},
         {"image_id": 1, "category_id": 2, "bbox": [0, 0, -3, 1], "score": 0.5},
         {"image_id": 9, "category_id": 90, "bbox": [1, 1, 2, 2], "score": 0.25}]
        """, lenient: true)
        XCTAssertEqual(r.results.count, 2)
        XCTAssertEqual(r.skipped, 2)
        XCTAssertTrue(r.warnings.contains { $0.contains("2 invalid results skipped") }, "\(r.warnings)")
    }

    func testResults_UnknownCategoryBadScoreAndStringIdsAreWarnings() throws {
        let r = try results("""
        [{"image_id": "9", "category_id": 77, "bbox": [0, 0, 1, 1], "score": 1.5},
         {"image_id": 1, "category_id": 2, "segmentation": {"size": [30, 40], "counts": "0`0"}, "score": -0.1}]
        """)
        XCTAssertEqual(r.results.map(\.imageId), [9, 1])
        XCTAssertEqual(r.results[0].categoryId, 77)
        let all = r.warnings.joined(separator: "\n")
        XCTAssertTrue(all.contains("category_id 77"), all)
        XCTAssertTrue(all.contains("score outside [0, 1]"), all)
        XCTAssertTrue(all.contains("[0].image_id: id written as the string \"9\""), all)
    }

    func testDeepNesting_IsAnErrorNotAStackOverflow() {
        let text = "{\"info\": " + String(repeating: "[", count: 100_000) + ", \"images\": []}"
        XCTAssertThrowsError(try COCOInstances.parse(Array(text.utf8), path: "deep.json")) { e in
            XCTAssertTrue("\(e)".contains("deep.json") && "\(e)".contains("nesting"), "\(e)")
        }
    }

    func testMappedFileAndBytes_GiveTheSameInstances() throws {
        let path = try TestPaths.shared("coco/shapes3/gt_dataset.json")
        let mapped = try COCOInstances.load(path)
        let parsed = try COCOInstances.parse(try FileIO.readBytes(path), path: path)
        XCTAssertEqual(mapped, parsed)
        XCTAssertEqual(mapped.images.count, 3)
        XCTAssertEqual(mapped.annotations.count, 9)
    }

    func testMissingFile_IsAnErrorNamingIt() {
        XCTAssertThrowsError(try COCOInstances.load("/nonexistent/gt.json")) { e in
            XCTAssertTrue("\(e)".contains("/nonexistent/gt.json"), "\(e)")
        }
    }
}
