import Datasets
import TestSupport
import XCTest

final class VOCAnnotationTests: XCTestCase {
    func parse(_ xml: String) throws -> VOCAnnotation {
        try VOCAnnotation.parse(Array(xml.utf8), path: "test.xml")
    }

    func testParse_FullDocumentWithRootAttributes() throws {
        let ann = try parse("""
        <?xml version="1.0"?>
        <annotation verified="yes">
          <folder>images</folder>
          <filename>a.jpg</filename>
          <size><width>650</width><height>417</height><depth>3</depth></size>
          <object>
            <name>dog</name><pose>Left</pose><truncated>1</truncated><difficult>0</difficult>
            <bndbox><xmin>81</xmin><ymin>88</ymin><xmax>522</xmax><ymax>408</ymax></bndbox>
          </object>
          <object>
            <name> cat </name><difficult>1</difficult>
            <bndbox><xmin> 1.9 </xmin><ymin>2.5</ymin><xmax>30.99</xmax><ymax>4e1</ymax></bndbox>
          </object>
        </annotation>
        """)
        XCTAssertEqual(ann.filename, "a.jpg")
        XCTAssertEqual(ann.folder, "images")
        XCTAssertEqual(ann.size, ImageSize(width: 650, height: 417, depth: 3))
        XCTAssertEqual(ann.objects.count, 2)
        XCTAssertEqual(ann.objects[0], VOCObject(name: "dog", pose: "Left", truncated: true, difficult: false,
                                                 box: PixelBox(xmin: 81, ymin: 88, xmax: 522, ymax: 408)))
        // int(float(x)) truncates toward zero; names are stripped.
        XCTAssertEqual(ann.objects[1].name, "cat")
        XCTAssertTrue(ann.objects[1].difficult)
        XCTAssertEqual(ann.objects[1].box, PixelBox(xmin: 1, ymin: 2, xmax: 30, ymax: 40))
    }

    func testParse_NegativeCoordinatesTruncateTowardZero() throws {
        let ann = try parse("<annotation><object><name>a</name><bndbox><xmin>-3.7</xmin><ymin>-0.2</ymin><xmax>5</xmax><ymax>6</ymax></bndbox></object></annotation>")
        XCTAssertEqual(ann.objects[0].box, PixelBox(xmin: -3, ymin: 0, xmax: 5, ymax: 6))
    }

    func testParse_MissingOptionalTags() throws {
        let ann = try parse("<annotation><object><name>a</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax></bndbox></object></annotation>")
        XCTAssertNil(ann.size)
        XCTAssertNil(ann.filename)
        XCTAssertNil(ann.objects[0].pose)
        XCTAssertFalse(ann.objects[0].difficult)
        XCTAssertFalse(ann.objects[0].truncated)
    }

    func testParse_NoObjects() throws {
        let ann = try parse("<annotation><size><width>5</width><height>6</height></size></annotation>")
        XCTAssertEqual(ann.objects, [])
        XCTAssertEqual(ann.size, ImageSize(width: 5, height: 6, depth: 3))
    }

    func testLoad_ZeroSizeTakenFromImage() throws {
        let dir = try makeTemporaryDirectory()
        let xml = dir + "/a.xml"
        try FileIO.writeAtomically(xml, text: "<annotation><size><width>0</width><height>0</height><depth>3</depth></size></annotation>")
        XCTAssertNil(try VOCAnnotation.load(xml).size)
        let image = TestPaths.fixtures() + "/images/progressive.jpg"
        XCTAssertEqual(try VOCAnnotation.load(xml, sizeFromImage: image, requireSize: true).size,
                       ImageSize(width: 52, height: 28, depth: 3))
    }

    func testWriter_RoundTrips() throws {
        let ann = VOCAnnotation(filename: "x & y.jpg", folder: "JPEGImages", size: ImageSize(width: 10, height: 20),
                                objects: [VOCObject(name: "a<b", pose: "Unspecified", truncated: true, difficult: true,
                                                    box: PixelBox(xmin: 1, ymin: 2, xmax: 3, ymax: 4))])
        XCTAssertEqual(try parse(ann.xmlDocument()), ann)
    }

    func testBoxProblems() {
        let size = ImageSize(width: 100, height: 50)
        XCTAssertEqual(boxProblems(PixelBox(xmin: 1, ymin: 1, xmax: 100, ymax: 50), size: size), [])
        XCTAssertEqual(boxProblems(PixelBox(xmin: 5, ymin: 5, xmax: 5, ymax: 5), size: size), [.zeroArea])
        XCTAssertEqual(boxProblems(PixelBox(xmin: 5, ymin: 5, xmax: 4, ymax: 9), size: size), [.inverted])
        XCTAssertEqual(boxProblems(PixelBox(xmin: 1, ymin: 1, xmax: 101, ymax: 9), size: size), [.outsideImage])
        XCTAssertEqual(boxProblems(PixelBox(xmin: -1, ymin: 1, xmax: -1, ymax: 9), size: nil), [.zeroArea, .outsideImage])
    }
}
