import Augment
import Base
import Datasets
import Tensor
import XCTest

final class FlipTests: XCTestCase {
    func testFlipTwice_IsIdentity() {
        let s = patternSample(width: 17, height: 9, boxes: [Box(1, 0, 3, 2), Box(4, 2, 17, 9)])
        let once = Functional.hflip(s)
        XCTAssertNotEqual(once.image, s.image)
        XCTAssertEqual(Functional.hflip(once), s)
    }

    func testFlip_BoxCoversFlippedPixelsAndMask() {
        var s = patternSample(width: 10, height: 4, boxes: [Box(2, 1, 5, 3)])
        s.image = RGBImage(width: 10, height: 4)
        for y in 1..<3 { for x in 2..<5 { s.image[x, y] = (255, 255, 255) } }
        let f = Functional.hflip(s)
        XCTAssertEqual(f.target.boxes, [Box(5, 1, 8, 3)])
        for y in 0..<4 {
            for x in 0..<10 {
                let inside = x >= 5 && x < 8 && y >= 1 && y < 3
                XCTAssertEqual(f.image[x, y] == (255, 255, 255), inside, "(\(x),\(y))")
                XCTAssertEqual(f.target.masks![0, x, y] == 1, inside, "mask (\(x),\(y))")
            }
        }
    }

    func testRandomHorizontalFlip_ProbabilityZeroAndOne() throws {
        let s = patternSample(width: 8, height: 5, boxes: [Box(1, 1, 3, 4)])
        var rng = SplitMix64(seed: 3)
        XCTAssertEqual(try RandomHorizontalFlip(p: 0).apply(s, using: &rng), s)
        XCTAssertEqual(try RandomHorizontalFlip(p: 1).apply(s, using: &rng), Functional.hflip(s))
    }
}
