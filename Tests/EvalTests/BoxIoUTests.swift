import Datasets
import Eval
import XCTest

final class BoxIoUTests: XCTestCase {
    func testIoU_Cases() {
        let a = PixelBox(xmin: 0, ymin: 0, xmax: 10, ymax: 10)
        XCTAssertEqual(intersectionOverUnion(a, a), 1)
        // 5x10 overlap: 50 / (100 + 100 - 50)
        XCTAssertEqual(intersectionOverUnion(a, PixelBox(xmin: 5, ymin: 0, xmax: 15, ymax: 10)), 50.0 / 150.0)
        // contained: 4 / 100
        XCTAssertEqual(intersectionOverUnion(a, PixelBox(xmin: 2, ymin: 2, xmax: 4, ymax: 4)), 0.04)
        // touching edges and disjoint boxes: 0
        XCTAssertEqual(intersectionOverUnion(a, PixelBox(xmin: 10, ymin: 0, xmax: 20, ymax: 10)), 0)
        XCTAssertEqual(intersectionOverUnion(a, PixelBox(xmin: 30, ymin: 30, xmax: 40, ymax: 40)), 0)
        // degenerate box
        XCTAssertEqual(intersectionOverUnion(PixelBox(xmin: 3, ymin: 3, xmax: 3, ymax: 3), a), 0)
    }

    func testIoU_Symmetric() {
        let boxes = [PixelBox(xmin: 0, ymin: 0, xmax: 7, ymax: 9), PixelBox(xmin: 3, ymin: 2, xmax: 12, ymax: 5),
                     PixelBox(xmin: -4, ymin: 1, xmax: 4, ymax: 20)]
        for a in boxes { for b in boxes { XCTAssertEqual(intersectionOverUnion(a, b), intersectionOverUnion(b, a)) } }
    }
}
