import Datasets
import TestSupport
import XCTest

final class AnnotationLinesTests: XCTestCase {
    func testParse() throws {
        let lines = try AnnotationLines.parse("/a/b.jpg 1,2,3,4,0 10,20,30,40,2\n\n/a/c.png\n/a/d.jpg\t-1,0,5,5,1\r\n", path: "l.txt")
        XCTAssertEqual(lines, [
            AnnotationLine(imagePath: "/a/b.jpg", boxes: [LabeledBox(1, 2, 3, 4, 0), LabeledBox(10, 20, 30, 40, 2)]),
            AnnotationLine(imagePath: "/a/c.png", boxes: []),
            AnnotationLine(imagePath: "/a/d.jpg", boxes: [LabeledBox(-1, 0, 5, 5, 1)]),
        ])
    }

    func testFormat_RoundTrips() throws {
        let lines = [
            AnnotationLine(imagePath: "/x/y.jpg", boxes: [LabeledBox(5, 6, 7, 8, 19)]),
            AnnotationLine(imagePath: "/x/z.jpg", boxes: []),
        ]
        let text = try AnnotationLines.format(lines)
        XCTAssertEqual(text, "/x/y.jpg 5,6,7,8,19\n/x/z.jpg\n")
        XCTAssertEqual(try AnnotationLines.parse(text, path: "t"), lines)
    }

    func testFormat_RefusesWhitespaceInPath() throws {
        let dir = try makeTemporaryDirectory()
        let out = dir + "/2007_train.txt"
        try FileIO.writeAtomically(out, text: "keep me\n")
        let lines = [AnnotationLine(imagePath: "/my data/a.jpg", boxes: [])]
        assertThrowsNaming(out, "whitespace") { try AnnotationLines.write(lines, to: out) }
        XCTAssertEqual(try FileIO.readText(out), "keep me\n", "a refused write leaves the old file intact")
    }

    func testParse_Errors() {
        assertThrowsNaming("l.txt:2", "5 integers") { _ = try AnnotationLines.parse("/a.jpg\n/b.jpg 1,2,3,4\n", path: "l.txt") }
        assertThrowsNaming("l.txt:1", "not an integer") { _ = try AnnotationLines.parse("/a.jpg 1,2,x,4,0", path: "l.txt") }
        assertThrowsNaming("l.txt:1", "negative class") { _ = try AnnotationLines.parse("/a.jpg 1,2,3,4,-1", path: "l.txt") }
    }
}
