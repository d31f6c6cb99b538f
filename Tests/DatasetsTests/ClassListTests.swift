import Datasets
import TestSupport
import XCTest

final class ClassListTests: XCTestCase {
    func testParse_BlankLinesAreUnusedIDs() throws {
        let c = try ClassList.parse("\nperson\n\n  car \r\n", path: "c.txt")
        XCTAssertEqual(c.names, [nil, "person", nil, "car"])
        XCTAssertEqual(c.count, 4)
        XCTAssertEqual(c.id(of: "person"), 1)
        XCTAssertEqual(c.id(of: "car"), 3)
        XCTAssertNil(c.id(of: ""))
        XCTAssertNil(c.id(of: "dog"))
        XCTAssertEqual(c.usedNames, ["person", "car"])
    }

    func testParse_FinalNewlineAddsNoID() throws {
        XCTAssertEqual(try ClassList.parse("a\nb", path: "c").count, 2)
        XCTAssertEqual(try ClassList.parse("a\nb\n", path: "c").count, 2)
        XCTAssertEqual(try ClassList.parse("a\nb\n\n", path: "c").count, 3)
        XCTAssertEqual(try ClassList.parse("a\r\nb\r\n", path: "c").names, ["a", "b"])
    }

    func testParse_Errors() {
        assertThrowsNaming("c.txt", "duplicate") { _ = try ClassList.parse("a\nb\na\n", path: "c.txt") }
        assertThrowsNaming("c.txt", "no class") { _ = try ClassList.parse("\n\n", path: "c.txt") }
        assertThrowsNaming("/nonexistent/classes.txt") { _ = try ClassList.load("/nonexistent/classes.txt") }
    }

    func testShippedClassFiles() throws {
        let voc = try ClassList.load(TestPaths.repositoryRoot + "/data/voc_classes.txt")
        XCTAssertEqual(voc.count, 20)
        XCTAssertEqual(voc.names.first, "aeroplane")
        XCTAssertEqual(voc.names.last, "tvmonitor")
        let coco = try ClassList.load(TestPaths.repositoryRoot + "/data/coco_classes.txt")
        XCTAssertEqual(coco.count, 91)
        XCTAssertEqual(coco.usedNames.count, 80)
        XCTAssertNil(coco[0])
        XCTAssertEqual(coco[1], "person")
        XCTAssertNil(coco[12])
        XCTAssertEqual(coco[13], "stop sign")
        XCTAssertEqual(coco[90], "toothbrush")
        XCTAssertEqual(coco.fileText(), try FileIO.readText(TestPaths.repositoryRoot + "/data/coco_classes.txt"))
    }
}
