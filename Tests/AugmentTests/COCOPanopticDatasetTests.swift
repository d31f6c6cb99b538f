import Augment
import Base
import Datasets
import Foundation
import TestSupport
import XCTest

/// The COCO panoptic training set: per segment a mask whose pixel count is the JSON's area, a
/// contiguous label in the categories' order and the JSON's box; crowd segments left out unless
/// asked for (Mask2Former's panoptic mapper drops them).
final class COCOPanopticDatasetTests: XCTestCase {
    func pixelCount(_ m: MaskStack, _ k: Int) -> Int {
        let n = m.height * m.width
        return m.values[(k * n)..<((k + 1) * n)].reduce(0) { $0 + Int($1) }
    }

    func extent(_ m: MaskStack, _ k: Int) -> Box? {
        var x0 = Int.max, y0 = Int.max, x1 = -1, y1 = -1
        for y in 0..<m.height {
            for x in 0..<m.width where m[k, x, y] != 0 {
                x0 = min(x0, x); x1 = max(x1, x); y0 = min(y0, y); y1 = max(y1, y)
            }
        }
        return x1 < 0 ? nil : Box(Float(x0), Float(y0), Float(x1 + 1), Float(y1 + 1))
    }

    /// Checks every sample of `data` against its JSON: areas, labels, boxes, crowd flags, and
    /// that no pixel belongs to two masks. Returns (segments, crowd segments) seen.
    func checkAgainstJSON(_ data: COCOPanopticDataset, boxesAreExtents: Bool) throws -> (Int, Int) {
        var segments = 0, crowd = 0
        for i in 0..<data.count {
            let s = try data.sample(at: i)
            let info = data.annotations[i].segments.filter { data.includeCrowd || $0.isCrowd == 0 }
            let m = try XCTUnwrap(s.target.masks)
            XCTAssertEqual(m.count, info.count)
            XCTAssertEqual(s.target.count, info.count)
            XCTAssertEqual(m.height, s.image.height)
            XCTAssertEqual(m.width, s.image.width)
            var cover = [UInt8](repeating: 0, count: m.height * m.width)
            for (k, seg) in info.enumerated() {
                XCTAssertEqual(Double(pixelCount(m, k)), try XCTUnwrap(seg.area), "\(s.path) segment \(seg.id)")
                XCTAssertEqual(data.categories[s.target.labels[k]].id, seg.categoryID)
                XCTAssertEqual(s.target.isCrowd[k], seg.isCrowd == 1)
                let bb = try XCTUnwrap(seg.bbox)
                XCTAssertEqual(s.target.boxes[k], Box(Float(bb.x), Float(bb.y), Float(bb.x + bb.width), Float(bb.y + bb.height)))
                if boxesAreExtents {
                    XCTAssertEqual(extent(m, k), s.target.boxes[k], "\(s.path) segment \(seg.id)")
                }
                for p in 0..<cover.count { cover[p] += m.values[k * cover.count + p] }
                segments += 1
                if seg.isCrowd == 1 { crowd += 1 }
            }
            XCTAssertLessThanOrEqual(cover.max() ?? 0, 1, s.path)
        }
        return (segments, crowd)
    }

    /// `demo-data --segmentation`'s panoptic set (things and stuff, one crowd region).
    func testDemoPanoptic_MasksMatchJSON() throws {
        let summary = try makeSegmentationDemo(images: 20, minSide: 96, maxSide: 128, seed: 0)
        let seg = try XCTUnwrap(summary.segmentation)
        let images = VOCDevkit(root: summary.devkit).imagesDirectory
        var crowdTotal = 0
        for json in [seg.panopticTrainJSON, seg.panopticValJSON] {
            let withCrowd = try COCOPanopticDataset(annotationFile: json, imagesDirectory: images, includeCrowd: true)
            XCTAssertEqual(withCrowd.segmentsDirectory, seg.panopticFolder)
            XCTAssertEqual(withCrowd.categories.map(\.id), [1, 2, 3, 4, 5, 6])
            XCTAssertEqual(withCrowd.isThing, [true, true, true, false, false, false])
            let (all, crowd) = try checkAgainstJSON(withCrowd, boxesAreExtents: false)
            crowdTotal += crowd
            let plain = try COCOPanopticDataset(annotationFile: json, imagesDirectory: images)
            let (kept, keptCrowd) = try checkAgainstJSON(plain, boxesAreExtents: false)
            XCTAssertEqual(kept, all - crowd)
            XCTAssertEqual(keptCrowd, 0)
        }
        XCTAssertGreaterThan(crowdTotal, 0)
    }

    /// panopticapi's sample (two COCO val2017 images, 133 categories, crowd segments): pixel
    /// counts equal the JSON areas and boxes are the masks' extents.
    func testSharedPanopticSample_MasksMatchJSON() throws {
        let dir = try TestPaths.shared("panoptic/sample", requiring: "panoptic_examples.json")
        let json = dir + "/panoptic_examples.json"
        let data = try COCOPanopticDataset(annotationFile: json, imagesDirectory: dir + "/input_images", includeCrowd: true)
        XCTAssertEqual(data.segmentsDirectory, dir + "/panoptic_examples")
        XCTAssertEqual(data.categories.count, 133)
        let (all, crowd) = try checkAgainstJSON(data, boxesAreExtents: true)
        XCTAssertEqual(crowd, 3)
        let plain = try COCOPanopticDataset(annotationFile: json, imagesDirectory: dir + "/input_images")
        let (kept, _) = try checkAgainstJSON(plain, boxesAreExtents: true)
        XCTAssertEqual(kept, all - 3)
        // Category 1 (person) is label 0: the categories' order, things and stuff together.
        XCTAssertEqual(plain.categories[0].id, 1)
    }

    func testBadInputs_NameTheFile() throws {
        let dir = try makeTemporaryDirectory()
        let json = dir + "/pan.json"
        // A segment whose category is not listed.
        try FileIO.writeAtomically(json, text: """
            {"annotations": [{"image_id": 1, "file_name": "a.png", "segments_info": [{"id": 5, "category_id": 9, "bbox": [0, 0, 1, 1]}]}],
             "categories": [{"id": 1, "name": "x", "isthing": 1}]}
            """)
        XCTAssertThrowsError(try COCOPanopticDataset(annotationFile: json, imagesDirectory: dir)) {
            XCTAssertTrue("\($0)".contains(json) && "\($0)".contains("category 9"), "\($0)")
        }
        // A bbox that is not four numbers.
        try FileIO.writeAtomically(json, text: """
            {"annotations": [{"image_id": 1, "file_name": "a.png", "segments_info": [{"id": 5, "category_id": 1, "bbox": [0, 0, 1]}]}],
             "categories": [{"id": 1, "name": "x", "isthing": 1}]}
            """)
        XCTAssertThrowsError(try COCOPanopticDataset(annotationFile: json, imagesDirectory: dir)) {
            XCTAssertTrue("\($0)".contains(json) && "\($0)".contains("bbox"), "\($0)")
        }
        // A segment PNG whose size differs from its image's.
        try FileIO.writeAtomically(json, text: """
            {"annotations": [{"image_id": 1, "file_name": "a.png", "segments_info": [{"id": 5, "category_id": 1}]}],
             "categories": [{"id": 1, "name": "x", "isthing": 1}]}
            """)
        try FileIO.makeDirectories(dir + "/segments")
        try FileIO.writeAtomically(dir + "/segments/a.png",
                                   bytes: try ImageIO.encodePNG(pixels: Array([[UInt8]](repeating: [5, 0, 0], count: 12).joined()),
                                                                               width: 4, height: 3, channels: 3))
        try ImageIO.save(RGBImage(width: 5, height: 3), to: dir + "/a.jpg")
        let data = try COCOPanopticDataset(annotationFile: json, imagesDirectory: dir)
        XCTAssertEqual(data.imagePath(at: 0), dir + "/a.jpg")
        XCTAssertThrowsError(try data.sample(at: 0)) {
            XCTAssertTrue("\($0)".contains(dir + "/segments/a.png") && "\($0)".contains("4x3"), "\($0)")
        }
        // Without a bbox the box is the mask's extent and the area its pixel count.
        try ImageIO.save(RGBImage(width: 4, height: 3), to: dir + "/a.jpg")
        let s = try data.sample(at: 0)
        XCTAssertEqual(s.target.boxes, [Box(0, 0, 4, 3)])
        XCTAssertEqual(s.target.areas, [12])
        // A segment id listed twice for one image.
        try FileIO.writeAtomically(json, text: """
            {"annotations": [{"image_id": 1, "file_name": "a.png", "segments_info": [{"id": 5, "category_id": 1}, {"id": 5, "category_id": 1}]}],
             "categories": [{"id": 1, "name": "x", "isthing": 1}]}
            """)
        XCTAssertThrowsError(try COCOPanopticDataset(annotationFile: json, imagesDirectory: dir).sample(at: 0)) {
            XCTAssertTrue("\($0)".contains(json) && "\($0)".contains("listed twice"), "\($0)")
        }
    }
}
