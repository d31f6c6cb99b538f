import Augment
import Base
import Datasets
import TestSupport
import XCTest

/// `VOCFolderDataset(masks: true)` on the shapes set with segmentation: each kept object's
/// mask spans its box and is drawn in the shape's colour, and the masks follow a crop.
final class VOCMaskDatasetTests: XCTestCase {
    func testMasks_SpanTheirBoxesAndFollowTransforms() throws {
        // Seed 0 holds difficult shapes, which are left out here.
        let summary = try makeSegmentationDemo(images: 10, minSide: 96, maxSide: 128, seed: 0)
        let kit = VOCDevkit(root: summary.devkit)
        let classes = try ClassList.load(summary.classesFile)
        let data = try VOCFolderDataset(devkit: kit, imageSet: "trainval", classes: classes, imageSets: .segmentation, masks: true)
        let plain = try VOCFolderDataset(devkit: kit, imageSet: "trainval", classes: classes, imageSets: .segmentation)
        XCTAssertEqual(data.count, 10)
        var checked = 0, cropped = 0
        for i in 0..<data.count {
            let s = try data.sample(at: i)
            let m = try XCTUnwrap(s.target.masks)
            XCTAssertEqual(m.count, s.target.count)
            XCTAssertEqual(try plain.sample(at: i).target.boxes, s.target.boxes)
            for k in 0..<m.count {
                var x0 = Int.max, y0 = Int.max, x1 = -1, y1 = -1
                for y in 0..<m.height { for x in 0..<m.width where m[k, x, y] == 1 {
                    x0 = min(x0, x); y0 = min(y0, y); x1 = max(x1, x); y1 = max(y1, y)
                } }
                let b = s.target.boxes[k]
                XCTAssertEqual(Float(x0), b.x1); XCTAssertEqual(Float(x1 + 1), b.x2); XCTAssertEqual(Float(y1 + 1), b.y2)
                XCTAssertLessThanOrEqual(Float(y0) - b.y1, 1)  // a triangle's apex may miss the top row
                checked += 1
            }
            // A crop keeps each mask's pixels where they were (shifted by the crop's corner).
            let c = Functional.crop(s, top: 5, left: 7, height: m.height - 10, width: m.width - 14)
            if let cm = c.target.masks, cm.count == m.count {
                cropped += 1
                for k in 0..<cm.count {
                    for y in 0..<cm.height { for x in 0..<cm.width { XCTAssertEqual(cm[k, x, y], m[k, x + 7, y + 5]) } }
                }
            }
        }
        XCTAssertGreaterThan(checked, 10)
        XCTAssertGreaterThan(cropped, 5)
    }

    func testMasks_WrongSizeNamesTheMaskFile() throws {
        let summary = try makeSegmentationDemo(images: 2, minSide: 64, maxSide: 64, seed: 1)
        let kit = VOCDevkit(root: summary.devkit)
        try ImageIO.saveIndexed(IndexedImage(width: 2, height: 2, indices: [0, 0, 0, 0], palette: IndexedImage.vocPalette),
                                to: kit.segmentationObjectPath("000001"))
        let data = try VOCFolderDataset(devkit: kit, imageSet: nil, classes: try ClassList.load(summary.classesFile), masks: true)
        XCTAssertThrowsError(try data.sample(at: 0)) { error in
            XCTAssertEqual((error as? DatasetError)?.path, kit.segmentationObjectPath("000001"))
        }
        XCTAssertNoThrow(try data.sample(at: 1))
    }
}
