import Datasets
import Eval
import Plots
import XCTest

/// Properties of `DetectionDrawing`: outline colour, untouched pixels, colours per class and
/// translucent masks.
final class DetectionDrawingTests: XCTestCase {
    /// A deterministic noisy image (so that "unchanged" is a real check, not a flat colour).
    func noiseImage(width: Int, height: Int, seed: UInt64) -> RGBImage {
        var state = seed
        var px = [UInt8](repeating: 0, count: width * height * 3)
        for i in px.indices {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            px[i] = UInt8(truncatingIfNeeded: state >> 56)
        }
        return RGBImage(width: width, height: height, pixels: px)
    }

    func same(_ a: (UInt8, UInt8, UInt8), _ b: (UInt8, UInt8, UInt8)) -> Bool { a == b }

    func testOutlineHasClassColourAndFarPixelsAreUnchanged() throws {
        let image = noiseImage(width: 160, height: 120, seed: 1)
        let det = DrawnDetection(x0: 40, y0: 50, x1: 100, y1: 90, classIndex: 2, label: "triangle 0.91")
        let style = DetectionStyle(lineWidth: 3, fontSize: 12)
        let out = try DetectionDrawing.draw([det], on: image, style: style)
        XCTAssertEqual(out.width, 160)
        XCTAssertEqual(out.height, 120)
        let colour = DetectionDrawing.color(forClass: 2)
        // Every pixel of the left, right and bottom bands (3 px inside the box) has the colour;
        // the top band may carry the label instead.
        for y in 50..<90 {
            for x in [40, 41, 42, 97, 98, 99] {
                XCTAssertTrue(same(out[x, y], colour), "(\(x), \(y)): \(out[x, y]) vs \(colour)")
            }
        }
        for x in 40..<100 {
            for y in 87..<90 { XCTAssertTrue(same(out[x, y], colour), "(\(x), \(y))") }
        }
        // Inside the box below the label and away from the lines: untouched.
        for y in 70..<86 {
            for x in 44..<96 { XCTAssertTrue(same(out[x, y], image[x, y]), "(\(x), \(y))") }
        }
        // Far from the box (the label sits above it, at most a font height plus padding).
        var changedFar = 0
        for y in 0..<120 {
            for x in 0..<160 {
                let near = x >= 38 && y >= 30 && y < 92 && (x < 102 || y < 50)
                if !near && !same(out[x, y], image[x, y]) { changedFar += 1 }
            }
        }
        XCTAssertEqual(changedFar, 0)
        // The label was drawn: pixels just above the box changed.
        var labelPixels = 0
        for y in 30..<50 { for x in 40..<100 where !same(out[x, y], image[x, y]) { labelPixels += 1 } }
        XCTAssertGreaterThan(labelPixels, 100)
    }

    func testColoursAreStablePerClassAndDistinct() {
        var seen: [String: Int] = [:]
        for c in 0..<100 {
            let a = DetectionDrawing.color(forClass: c), b = DetectionDrawing.color(forClass: c)
            XCTAssertTrue(a == b)
            let key = "\(a.0),\(a.1),\(a.2)"
            XCTAssertNil(seen[key], "classes \(seen[key] ?? -1) and \(c) share colour \(key)")
            seen[key] = c
        }
        // Two boxes of one class drawn on different images get the same colour; another class not.
        let image = RGBImage(width: 64, height: 64, fill: (20, 20, 20))
        let style = DetectionStyle(lineWidth: 2, fontSize: 10)
        let one = try? DetectionDrawing.draw([DrawnDetection(x0: 10, y0: 10, x1: 50, y1: 50, classIndex: 7, label: "")], on: image, style: style)
        let two = try? DetectionDrawing.draw([DrawnDetection(x0: 5, y0: 20, x1: 30, y1: 60, classIndex: 7, label: ""),
                                              DrawnDetection(x0: 35, y0: 20, x1: 60, y1: 60, classIndex: 8, label: "")],
                                             on: image, style: style)
        XCTAssertTrue(same(one![10, 30], two![5, 40]))
        XCTAssertFalse(same(two![5, 40], two![59, 40]))
    }

    func testMaskBlendsBetweenImageAndColour() throws {
        let w = 40, h = 30
        let image = noiseImage(width: w, height: h, seed: 2)
        var mask = [Bool](repeating: false, count: w * h)
        for y in 10..<20 { for x in 10..<30 { mask[y * w + x] = true } }
        let det = DrawnDetection(x0: 5, y0: 5, x1: 35, y1: 25, classIndex: 1, label: "", mask: mask)
        let out = try DetectionDrawing.draw([det], on: image, style: DetectionStyle(lineWidth: 1, fontSize: 8, maskAlpha: 0.45))
        let c = DetectionDrawing.color(forClass: 1)
        for y in 10..<20 {
            for x in 10..<30 {
                let o = image[x, y], d = out[x, y]
                for (orig, col, got) in [(o.0, c.0, d.0), (o.1, c.1, d.1), (o.2, c.2, d.2)] {
                    // Between the original and the colour, 45% of the way (rounding: 1 level).
                    XCTAssertGreaterThanOrEqual(Int(got), Int(min(orig, col)))
                    XCTAssertLessThanOrEqual(Int(got), Int(max(orig, col)))
                    let expected = 0.55 * Double(orig) + 0.45 * Double(col)
                    XCTAssertEqual(Double(got), expected, accuracy: 0.51, "(\(x), \(y))")
                }
            }
        }
        // Outside the mask and the outline: unchanged.
        for y in 7..<23 { for x in 7..<33 where !mask[y * w + x] { XCTAssertTrue(same(out[x, y], image[x, y])) } }
        // A mask of the wrong size is an error, not a trap.
        let bad = DrawnDetection(x0: 0, y0: 0, x1: 4, y1: 4, classIndex: 0, label: "", mask: [true])
        XCTAssertThrowsError(try DetectionDrawing.draw([bad], on: image))
    }

    func testBoxesOutsideOrDegenerateDoNotTrap() throws {
        let image = noiseImage(width: 20, height: 10, seed: 3)
        let dets = [DrawnDetection(x0: 30, y0: 30, x1: 40, y1: 40, classIndex: 0, label: "far"),
                    DrawnDetection(x0: .nan, y0: 0, x1: 5, y1: 5, classIndex: 0, label: "nan"),
                    DrawnDetection(x0: 19.5, y0: 9.5, x1: 19.5, y1: 9.5, classIndex: 0, label: "")]
        let out = try DetectionDrawing.draw(dets, on: image)
        // Only the degenerate box at the corner pixel shows, as one pixel of the colour.
        XCTAssertTrue(same(out[19, 9], DetectionDrawing.color(forClass: 0)))
        XCTAssertTrue(same(out[0, 0], image[0, 0]))
        XCTAssertTrue(DetectionDrawing.pixelRect(x0: 1.2, y0: 0.5, x1: 3.1, y1: 2, width: 20, height: 10)! == (1, 0, 3, 2))
    }
}
