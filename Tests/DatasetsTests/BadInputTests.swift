import Datasets
import Foundation
import TestSupport
import XCTest

/// Bad inputs: each gives an error that names the file; none ends the process.
final class BadInputTests: XCTestCase {
    func write(_ dir: String, _ name: String, _ bytes: [UInt8]) throws -> String {
        let path = dir + "/" + name
        try FileIO.writeAtomically(path, bytes: bytes)
        return path
    }

    func testBadImages() throws {
        let dir = try makeTemporaryDirectory()
        let jpeg = try FileIO.readBytes(TestPaths.fixtures() + "/images/baseline.jpg")
        let png = try FileIO.readBytes(TestPaths.fixtures() + "/images/rgb.png")
        var badCRC = png
        badCRC[29] ^= 0xFF  // inside the IHDR CRC
        var badIDAT = png
        badIDAT[badIDAT.count - 20] ^= 0x55  // inside the IDAT data / its CRC
        let cases: [(String, [UInt8], String)] = [
            ("truncated.jpg", Array(jpeg.prefix(jpeg.count / 2)), "JPEG"),
            ("header_only.jpg", Array(jpeg.prefix(40)), "JPEG"),
            ("bad_crc.png", badCRC, "PNG"),
            ("bad_idat.png", badIDAT, "PNG"),
            ("truncated.png", Array(png.prefix(png.count - 30)), "PNG"),
            ("text.jpg", Array("this is not an image".utf8), "unsupported"),
            ("empty.png", [], "unsupported"),
            ("gif.jpg", Array("GIF89a\u{1}\u{0}\u{1}\u{0}".utf8), "GIF"),
        ]
        for (name, bytes, fragment) in cases {
            let path = try write(dir, name, bytes)
            assertThrowsNaming(path, fragment) { _ = try ImageIO.load(path) }
        }
        assertThrowsNaming(dir + "/missing.jpg", "cannot read") { _ = try ImageIO.load(dir + "/missing.jpg") }
    }

    /// EXIF orientation is not applied, as PIL's Image.open(f).convert('RGB') in the reference
    /// scripts: a JPEG marked "rotate 90" (orientation 6) decodes to its stored pixels and size.
    func testEXIFOrientation_IsIgnoredAsPILOpenDoes() throws {
        let dir = try makeTemporaryDirectory()
        let jpeg = try FileIO.readBytes(TestPaths.fixtures() + "/images/baseline.jpg")
        // APP1 "Exif": a big-endian TIFF header and one IFD entry, Orientation (0x0112) = 6.
        let tiff: [UInt8] = [0x4D, 0x4D, 0, 0x2A, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0]
        let app1: [UInt8] = [0xFF, 0xE1, 0, UInt8(2 + 6 + tiff.count)] + Array("Exif".utf8) + [0, 0] + tiff
        let rotated = try write(dir, "rotated.jpg", Array(jpeg.prefix(2)) + app1 + Array(jpeg.dropFirst(2)))
        let plain = try ImageIO.load(TestPaths.fixtures() + "/images/baseline.jpg")
        let img = try ImageIO.load(rotated)
        XCTAssertEqual([img.width, img.height], [plain.width, plain.height])
        XCTAssertEqual(img.pixels, plain.pixels)
        let size = try ImageIO.size(ofFile: rotated)
        XCTAssertEqual([size.width, size.height], [plain.width, plain.height])
    }

    func testBadXML() throws {
        let dir = try makeTemporaryDirectory()
        let box = "<bndbox><xmin>1</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax></bndbox>"
        let size = "<size><width>10</width><height>10</height><depth>3</depth></size>"
        let cases: [(String, String, String)] = [
            ("not_xml.xml", "this is { not xml", "malformed XML"),
            ("unclosed.xml", "<annotation><object><name>a</name>", "malformed XML"),
            ("empty.xml", "", "malformed XML"),
            ("no_bndbox.xml", "<annotation>\(size)<object><name>a</name></object></annotation>", "bndbox"),
            ("letters.xml", "<annotation>\(size)<object><name>a</name><bndbox><xmin>1</xmin><ymin>two</ymin><xmax>3</xmax><ymax>4</ymax></bndbox></object></annotation>", "ymin"),
            ("no_xmax.xml", "<annotation>\(size)<object><name>a</name><bndbox><xmin>1</xmin><ymin>2</ymin><ymax>4</ymax></bndbox></object></annotation>", "xmax"),
            ("no_name.xml", "<annotation>\(size)<object>\(box)</object></annotation>", "name"),
            ("nan.xml", "<annotation>\(size)<object><name>a</name><bndbox><xmin>nan</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax></bndbox></object></annotation>", "xmin"),
            ("bad_difficult.xml", "<annotation>\(size)<object><name>a</name><difficult>yes</difficult>\(box)</object></annotation>", "difficult"),
        ]
        for (name, text, fragment) in cases {
            let path = try write(dir, name, Array(text.utf8))
            assertThrowsNaming(path, fragment) { _ = try VOCAnnotation.load(path) }
        }
        // No <size>: an error when a size is required and no image is given to read it from.
        let noSize = try write(dir, "no_size.xml", Array("<annotation><object><name>a</name>\(box)</object></annotation>".utf8))
        assertThrowsNaming(noSize, "size") { _ = try VOCAnnotation.load(noSize, requireSize: true) }
        // A malformed document reports its line.
        let multi = try write(dir, "line3.xml", Array("<annotation>\n<size>\n<width>1</wid>\n</annotation>".utf8))
        assertThrowsNaming(multi, ":3:") { _ = try VOCAnnotation.load(multi) }
    }
}
