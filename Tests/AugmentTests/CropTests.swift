import Augment
import Base
import Datasets
import Tensor
import XCTest

final class CropTests: XCTestCase {
    func testCrop_ClipsShiftsAndDropsEmptyBoxes() {
        let s = patternSample(width: 50, height: 40, boxes: [Box(5, 5, 20, 20), Box(30, 30, 45, 38), Box(0, 0, 50, 40)])
        let c = Functional.crop(s, top: 10, left: 10, height: 15, width: 20)
        // The second box lies outside the crop and is dropped with its label and mask.
        XCTAssertEqual(c.target.boxes, [Box(0, 0, 10, 10), Box(0, 0, 20, 15)])
        XCTAssertEqual(c.target.labels, [0, 2])
        XCTAssertEqual(c.target.areas, [100, 300])
        XCTAssertEqual(c.target.masks?.count, 2)
        XCTAssertTrue(c.image[0, 0] == s.image[10, 10])
        XCTAssertTrue(c.image[19, 14] == s.image[29, 24])
        XCTAssertEqual(c.target.masks![0, 9, 9], 1)
        XCTAssertEqual(c.target.masks![0, 10, 9], 0)
    }

    func testRandomSizeCrop_NeverLeavesABoxOutsideOrEmpty() throws {
        var rng = SplitMix64(seed: 11)
        for trial in 0..<200 {
            let w = 30 + rng.nextInt(below: 60), h = 30 + rng.nextInt(below: 60)
            var boxes: [Box] = []
            for _ in 0..<5 {
                let x1 = Float(rng.nextInt(below: w)), y1 = Float(rng.nextInt(below: h))
                boxes.append(Box(x1, y1, min(Float(w), x1 + Float(1 + rng.nextInt(below: 20))), min(Float(h), y1 + Float(1 + rng.nextInt(below: 20)))))
            }
            let s = patternSample(width: w, height: h, boxes: boxes, seed: UInt64(trial))
            let c = try RandomSizeCrop(20, 50).apply(s, using: &rng)
            XCTAssertTrue((min(20, w)...min(w, 50)).contains(c.image.width))
            XCTAssertTrue((min(20, h)...min(h, 50)).contains(c.image.height))
            XCTAssertEqual(c.target.labels.count, c.target.boxes.count)
            XCTAssertEqual(c.target.masks?.count, c.target.boxes.count)
            for b in c.target.boxes {
                XCTAssertTrue(b.x1 >= 0 && b.y1 >= 0 && b.x2 <= Float(c.image.width) && b.y2 <= Float(c.image.height), "\(b)")
                XCTAssertTrue(b.width > 0 && b.height > 0, "\(b)")
            }
        }
    }

    func testCropOfTinyImage_DoesNotTrap() throws {
        var rng = SplitMix64(seed: 1)
        let s = patternSample(width: 5, height: 3, boxes: [Box(0, 0, 5, 3)])
        let c = try RandomSizeCrop(384, 600).apply(s, using: &rng)
        XCTAssertEqual([c.image.width, c.image.height], [5, 3])
    }

    func testPad_KeepsBoxesAndPadsMasks() {
        let s = patternSample(width: 10, height: 6, boxes: [Box(1, 1, 4, 4)])
        let p = Functional.pad(s, right: 3, bottom: 2)
        XCTAssertEqual([p.image.width, p.image.height], [13, 8])
        XCTAssertEqual(p.target.boxes, s.target.boxes)
        XCTAssertTrue(p.image[12, 7] == (0, 0, 0))
        XCTAssertTrue(p.image[9, 5] == s.image[9, 5])
        XCTAssertEqual([p.target.masks!.height, p.target.masks!.width], [8, 13])
    }

    func testDropEmptyBoxes_RemovesZeroWidthOrHeight() {
        let t = Target(boxes: [Box(1, 1, 1, 5), Box(1, 1, 4, 5), Box(2, 3, 6, 3)], labels: [0, 1, 2])
        let d = t.droppingEmptyBoxes()
        XCTAssertEqual(d.boxes, [Box(1, 1, 4, 5)])
        XCTAssertEqual(d.labels, [1])
    }
}
