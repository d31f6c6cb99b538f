import Augment
import Base
import Datasets
import Foundation
import Tensor
import TestSupport
import XCTest

final class ResizeTests: XCTestCase {
    struct SizeCase: Decodable {
        var w: Int, h: Int, size: Int
        var max_size: Int?
        var oh: Int, ow: Int
    }

    /// DETR's get_size_with_aspect_ratio, every case of the table written by the fixture script.
    func testSizeWithAspectRatio_MatchesDETR() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: TestPaths.fixtures() + "/sizes.json"))
        let cases = try JSONDecoder().decode([SizeCase].self, from: data)
        XCTAssertGreaterThan(cases.count, 100)
        for c in cases {
            let got = Functional.sizeWithAspectRatio(width: c.w, height: c.h, size: c.size, maxSize: c.max_size)
            XCTAssertEqual(got.height, c.oh, "\(c)")
            XCTAssertEqual(got.width, c.ow, "\(c)")
        }
    }

    func testSizeWithAspectRatio_HandTable() {
        // (w, h, size, max) -> (h, w)
        let table: [(Int, Int, Int, Int?, Int, Int)] = [
            (640, 480, 800, 1333, 800, 1066),
            (500, 375, 800, 1333, 800, 1066),
            (2000, 1333, 800, 1333, 800, 1200),
            (1000, 100, 800, 1333, 133, 1330),
            (800, 600, 600, nil, 600, 800),
        ]
        for (w, h, s, m, eh, ew) in table {
            let got = Functional.sizeWithAspectRatio(width: w, height: h, size: s, maxSize: m)
            XCTAssertEqual([got.height, got.width], [eh, ew], "\(w)x\(h) size \(s) max \(String(describing: m))")
        }
    }

    func testResizeThenInverse_KeepsBoxesWithinAPixel() {
        let boxes = [Box(3, 4, 50, 33), Box(0, 0, 61, 47), Box(20.5, 10.25, 21.5, 40)]
        let s = patternSample(width: 61, height: 47, boxes: [Box(3, 4, 50, 33), Box(0, 0, 61, 47)])
        var s2 = s
        s2.target = Target(boxes: boxes, labels: [0, 1, 2], imageId: 1, originalSize: (47, 61))
        for (h, w) in [(100, 130), (20, 15), (47, 200), (800, 1066)] {
            let there = Functional.resize(s2, height: h, width: w)
            XCTAssertEqual(there.image.width, w)
            XCTAssertEqual(there.image.height, h)
            let back = Functional.resize(there, height: 47, width: 61)
            for (a, b) in zip(back.target.boxes, boxes) {
                for (u, v) in [(a.x1, b.x1), (a.y1, b.y1), (a.x2, b.x2), (a.y2, b.y2)] {
                    XCTAssertEqual(u, v, accuracy: 1, "\(h)x\(w): \(a) vs \(b)")
                }
            }
        }
    }

    func testResize_ScalesAreasAndMasks() {
        let s = patternSample(width: 40, height: 20, boxes: [Box(10, 5, 20, 15)])
        let r = Functional.resize(s, height: 40, width: 80)
        XCTAssertEqual(r.target.boxes, [Box(20, 10, 40, 30)])
        XCTAssertEqual(r.target.areas, [400])
        let m = r.target.masks!
        XCTAssertEqual([m.height, m.width], [40, 80])
        XCTAssertEqual(m.values.reduce(0) { $0 + Int($1) }, 400)
        XCTAssertEqual(m[0, 20, 10], 1)
        XCTAssertEqual(m[0, 19, 10], 0)
    }

    func testRandomResize_PicksFromSizesAndCapsLongerSide() throws {
        let s = patternSample(width: 200, height: 20, boxes: [Box(1, 1, 5, 5)])
        var rng = SplitMix64(seed: 9)
        for _ in 0..<20 {
            let r = try RandomResize([30, 40], maxSize: 250).apply(s, using: &rng)
            XCTAssertLessThanOrEqual(r.image.width, 250)
            XCTAssertTrue([20, 25].contains(r.image.height) || [30, 40].contains(r.image.height), "\(r.image.height)")
        }
    }

    func testLetterbox_CentresOnGrey() {
        let s = patternSample(width: 40, height: 20, boxes: [Box(0, 0, 40, 20)])
        let l = Functional.letterbox(s, width: 80, height: 80)
        XCTAssertEqual([l.image.width, l.image.height], [80, 80])
        XCTAssertEqual(l.target.boxes, [Box(0, 20, 80, 60)])
        XCTAssertTrue(l.image[0, 0] == (128, 128, 128))
        XCTAssertTrue(l.image[79, 79] == (128, 128, 128))
        XCTAssertEqual(l.target.masks![0, 5, 19], 0)
        XCTAssertEqual(l.target.masks![0, 5, 20], 1)
    }

    /// The reference preset's boxes against the reference's own int-array arithmetic (numpy, via
    /// scripts/fixtures/reference_boxes.py): paste with scale and offset (negative offsets too),
    /// optional flip, clip, boxes of at most 1 pixel dropped.
    func testReferenceBoxes_MatchTheReferenceIntArithmetic() throws {
        struct Case: Decodable {
            let iw, ih, nw, nh, dx, dy, w, h: Int
            let flip: Bool
            let boxes: [[Int]]
            let expected: [[Int]]
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: TestPaths.fixtures() + "/reference_boxes.json"))
        let cases = try JSONDecoder().decode([Case].self, from: data)
        XCTAssertEqual(cases.count, 60)
        var rng = SplitMix64(seed: 0)
        for (k, c) in cases.enumerated() {
            let boxes = c.boxes.map { Box(Float($0[0]), Float($0[1]), Float($0[2]), Float($0[3])) }
            let image = RGBImage(width: c.iw, height: c.ih)
            let sample = Sample(image: image, target: Target(boxes: boxes, labels: c.boxes.map { $0[4] }))
            var r = Functional.resizeAndPaste(sample, width: c.nw, height: c.nh, x: c.dx, y: c.dy, canvasWidth: c.w,
                                              canvasHeight: c.h, integerBoxes: true)
            if c.flip { r = Functional.hflip(r) }
            r = try DropSmallBoxes(minSize: 1).apply(r, using: &rng)
            let got = zip(r.target.boxes, r.target.labels).map { [Int($0.x1), Int($0.y1), Int($0.x2), Int($0.y2), $1] }
            XCTAssertEqual(got, c.expected, "case \(k)")
        }
        // Without integerBoxes the boxes keep their fractions.
        let s = Sample(image: RGBImage(width: 100, height: 50), target: Target(boxes: [Box(10, 10, 33, 47)], labels: [0]))
        XCTAssertEqual(Functional.letterbox(s, width: 64, height: 64).target.boxes[0].x1, 6.4, accuracy: 1e-5)
        XCTAssertEqual(Functional.letterbox(s, width: 64, height: 64, integerBoxes: true).target.boxes, [Box(6, 22, 21, 46)])
    }

    func testScaleJitter_StaysInCanvasAndIsSeeded() throws {
        let s = patternSample(width: 64, height: 48, boxes: [Box(5, 5, 30, 40), Box(40, 2, 63, 20)])
        let t = Preset.reference.train(inputSize: 96)
        for seed in 0..<30 {
            var a = SplitMix64(seed: UInt64(seed)), b = SplitMix64(seed: UInt64(seed))
            let r = try t.apply(s, using: &a)
            XCTAssertEqual(r, try t.apply(s, using: &b))
            XCTAssertEqual([r.image.width, r.image.height], [96, 96])
            for box in r.target.boxes {
                XCTAssertTrue(box.x1 >= 0 && box.y1 >= 0 && box.x2 <= 96 && box.y2 <= 96, "\(box)")
                XCTAssertTrue(box.width > 1 && box.height > 1, "\(box)")
            }
            XCTAssertEqual(r.target.labels.count, r.target.boxes.count)
            XCTAssertEqual(r.target.masks?.count, r.target.boxes.count)
        }
    }
}
