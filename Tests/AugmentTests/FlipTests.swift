import Augment
import Datasets
import XCTest

final class FlipTests: XCTestCase {
    func testFlipTwice_IsIdentity() {
        var img = RGBImage(width: 7, height: 3)
        for y in 0..<3 { for x in 0..<7 { img[x, y] = (UInt8(x), UInt8(y), UInt8(x * y)) } }
        XCTAssertEqual(horizontallyFlipped(horizontallyFlipped(img)), img)
        XCTAssertNotEqual(horizontallyFlipped(img), img)
        let box = PixelBox(xmin: 1, ymin: 0, xmax: 3, ymax: 2)
        XCTAssertEqual(horizontallyFlipped(horizontallyFlipped(box, imageWidth: 7), imageWidth: 7), box)
    }

    func testFlippedBoxCoversFlippedPixels() {
        // The pixels inside a box land inside the flipped box.
        var img = RGBImage(width: 10, height: 4)
        let box = PixelBox(xmin: 2, ymin: 1, xmax: 5, ymax: 3)
        for y in box.ymin..<box.ymax { for x in box.xmin..<box.xmax { img[x, y] = (255, 255, 255) } }
        let flipped = horizontallyFlipped(img)
        let fb = horizontallyFlipped(box, imageWidth: 10)
        XCTAssertEqual(fb, PixelBox(xmin: 5, ymin: 1, xmax: 8, ymax: 3))
        for y in 0..<4 {
            for x in 0..<10 {
                let inside = x >= fb.xmin && x < fb.xmax && y >= fb.ymin && y < fb.ymax
                XCTAssertEqual(flipped[x, y] == (255, 255, 255), inside, "(\(x),\(y))")
            }
        }
    }
}
