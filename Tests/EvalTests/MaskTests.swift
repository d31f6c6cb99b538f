import Datasets
import Eval
import Foundation
import TestSupport
import XCTest

/// The mask API against pycocotools' outputs (Fixtures/mask_reference.json, written by
/// scripts/fixtures/coco_reference.py).
final class MaskTests: XCTestCase {
    var reference: [String: Any] = [:]

    override func setUpWithError() throws {
        reference = try FixtureJSON.load("mask_reference.json") as! [String: Any]
    }

    func cases(_ key: String) -> [[String: Any]] { reference[key] as! [[String: Any]] }

    func rle(_ o: Any) -> RLE {
        let d = o as! [String: Any]
        let size = (d["size"] as! [NSNumber]).map(\.intValue)
        return RLE(compressed: d["counts"] as! String, height: size[0], width: size[1])!
    }

    func doubles(_ o: Any?) -> [Double] { (o as! [NSNumber]).map(\.doubleValue) }

    func testFrPoly_EachPolygonMatchesPycocotools() {
        for (n, c) in cases("polygons").enumerated() {
            let h = (c["height"] as! NSNumber).intValue, w = (c["width"] as! NSNumber).intValue
            let polys = (c["polygons"] as! [[NSNumber]]).map { $0.map(\.doubleValue) }
            let expected = (c["rles"] as! [Any]).map(rle)
            for (p, poly) in polys.enumerated() {
                let observed = RLE(polygon: poly, height: h, width: w)
                XCTAssertEqual(observed.compressedString, expected[p].compressedString,
                               "case \(n) polygon \(p) \(poly) on \(h)x\(w): expected \(expected[p].counts), observed \(observed.counts)")
            }
        }
    }

    func testMergeAreaToBbox_MatchPycocotools() {
        for (n, c) in cases("polygons").enumerated() {
            let h = (c["height"] as! NSNumber).intValue, w = (c["width"] as! NSNumber).intValue
            let polys = (c["polygons"] as! [[NSNumber]]).map { $0.map(\.doubleValue) }
            let merged = RLE(segmentation: .polygons(polys), height: h, width: w)!
            let expected = rle(c["merged"]!)
            XCTAssertEqual(merged, expected, "case \(n): merged")
            XCTAssertEqual(Int(merged.area), (c["area"] as! NSNumber).intValue, "case \(n): area")
            let b = merged.boundingBox
            XCTAssertEqual([b.x, b.y, b.width, b.height], doubles(c["bbox"]), "case \(n): toBbox")
        }
    }

    /// annToRLE of all 839 val2014_100 ground truths (polygons, crowd RLEs): area, toBbox and the
    /// length of the compressed string agree with pycocotools.
    func testVal2014GroundTruthMasks_MatchPycocotools() throws {
        let gt = try COCOInstances.load(try TestPaths.shared("coco/val2014_100/instances_val2014_100.json"))
        var size: [Int64: (Int, Int)] = [:]
        for im in gt.images { size[im.id] = (im.height, im.width) }
        var byId: [Int64: COCOAnnotation] = [:]
        for a in gt.annotations { byId[a.id] = a }
        let rows = (reference["val2014_100_gt"] as! [[NSNumber]]).map { $0.map(\.doubleValue) }
        XCTAssertEqual(rows.count, gt.annotations.count)
        var mismatches = 0
        for row in rows {
            guard let a = byId[Int64(row[0])], let (h, w) = size[a.imageId],
                  let m = RLE(segmentation: a.segmentation!, height: h, width: w) else {
                XCTFail("annotation \(row[0]) cannot be rasterised"); continue
            }
            let b = m.boundingBox
            let observed = [row[0], Double(m.area), b.x, b.y, b.width, b.height, Double(m.compressedBytes.count)]
            if observed != row {
                mismatches += 1
                if mismatches <= 5 { XCTFail("annotation \(Int(row[0])): expected \(row), observed \(observed)") }
            }
        }
        XCTAssertEqual(mismatches, 0)
    }

    func testFrBbox_MatchesPycocotools() {
        for (n, c) in cases("boxes").enumerated() {
            let h = (c["height"] as! NSNumber).intValue, w = (c["width"] as! NSNumber).intValue
            let v = doubles(c["box"])
            let observed = RLE(box: COCOBox(x: v[0], y: v[1], width: v[2], height: v[3]), height: h, width: w)
            let expected = rle(c["rle"]!)
            XCTAssertEqual(observed, expected, "box \(n) \(v): expected \(expected.counts), observed \(observed.counts)")
        }
    }

    func testEncodeDecodeAndCompressedStrings_MatchPycocotools() {
        for (n, c) in cases("encode").enumerated() {
            let h = (c["height"] as! NSNumber).intValue, w = (c["width"] as! NSNumber).intValue
            let mask = (c["row_major"] as! [NSNumber]).map { UInt8($0.intValue) }
            let observed = RLE(rowMajorMask: mask, height: h, width: w)
            let expected = rle(c["rle"]!)
            XCTAssertEqual(observed.compressedString, expected.compressedString, "mask \(n): compressed string")
            XCTAssertEqual(observed.counts, (c["uncompressed"] as! [NSNumber]).map { UInt32($0.intValue) }, "mask \(n): counts")
            XCTAssertEqual(observed.decodeRowMajor(), mask, "mask \(n): decode round trip")
            let uncompressed = COCOSegmentation.uncompressedRLE(height: h, width: w, counts: observed.counts)
            XCTAssertEqual(RLE(segmentation: uncompressed, height: h, width: w), expected, "mask \(n): frPyObjects on counts")
        }
    }

    func testCompressedString_RoundTripsLargeAndZeroRuns() {
        let cases: [[UInt32]] = [[0, 5, 3], [12, 0, 0, 7], [1_000_000, 3, 999_999, 17, 0, 1], [4_000_000_000, 1]]
        for counts in cases {
            let r = RLE(height: 1, width: Int(counts.reduce(0) { $0 + UInt64($1) }), counts: counts)
            let back = RLE(compressed: r.compressedString, height: r.height, width: r.width)
            XCTAssertEqual(back?.counts, counts, "counts \(counts) -> '\(r.compressedString)'")
        }
        XCTAssertNil(RLE(compressed: "ab\u{7f}", height: 2, width: 2), "a character outside 48...111")
    }

    func testIoU_MasksAndBoxesWithCrowdsMatchPycocotools() {
        for (n, c) in cases("iou").enumerated() {
            let dt = (c["dt"] as! [Any]).map(rle), gt = (c["gt"] as! [Any]).map(rle)
            let crowd = (c["crowd"] as! [NSNumber]).map { $0.intValue != 0 }
            let expected = (c["iou"] as! [[NSNumber]]).map { $0.map(\.doubleValue) }
            let observed = MaskIoU.masks(dt, gt, isCrowd: crowd)
            XCTAssertEqual(observed, expected, "size case \(n): mask IoU")
            let box = { (v: [NSNumber]) in COCOBox(x: v[0].doubleValue, y: v[1].doubleValue, width: v[2].doubleValue, height: v[3].doubleValue) }
            let db = (c["dt_boxes"] as! [[NSNumber]]).map(box), gb = (c["gt_boxes"] as! [[NSNumber]]).map(box)
            XCTAssertEqual(MaskIoU.boxes(db, gb, isCrowd: crowd), (c["box_iou"] as! [[NSNumber]]).map { $0.map(\.doubleValue) },
                           "size case \(n): box IoU")
        }
    }

    func testIoU_EdgeCases() {
        let a = COCOBox(x: 0, y: 0, width: 10, height: 10)
        let table: [(COCOBox, Bool, Double)] = [
            (a, false, 1),
            (COCOBox(x: 5, y: 0, width: 10, height: 10), false, 50.0 / 150.0),
            (COCOBox(x: 10, y: 0, width: 10, height: 10), false, 0),                  // touching
            (COCOBox(x: -5, y: -5, width: 30, height: 30), true, 1),                  // inside a crowd
            (COCOBox(x: 5, y: 5, width: 10, height: 10), true, 25.0 / 100.0),         // crowd: / detection area
        ]
        for (n, (g, crowd, want)) in table.enumerated() {
            XCTAssertEqual(MaskIoU.box(a, g, crowd: crowd), want, "row \(n)")
        }
        // Masks of different sizes give -1, as maskApi does.
        let m1 = RLE(height: 2, width: 2, counts: [0, 4]), m2 = RLE(height: 4, width: 1, counts: [0, 4])
        XCTAssertEqual(MaskIoU.masks([m1], [m2], isCrowd: [false]), [[-1]])
    }

    func testPolygon_QuirksAndBadInputDoNotTrap() {
        // pycocotools reads a first polygon of exactly 4 numbers as boxes [x, y, w, h].
        let asBoxes = RLE(segmentation: .polygons([[1, 1, 3, 2]]), height: 6, width: 6)!
        XCTAssertEqual(asBoxes, RLE(box: COCOBox(x: 1, y: 1, width: 3, height: 2), height: 6, width: 6))
        XCTAssertEqual(RLE(segmentation: .polygons([]), height: 3, width: 4)!.area, 0)
        XCTAssertEqual(RLE(polygon: [.nan, 1, 1e300, -1e300, 5, 5], height: 8, width: 8).counts.reduce(0, +), 64)
        XCTAssertEqual(RLE(polygon: [1, 2], height: 4, width: 4).area, 0)
    }
}
