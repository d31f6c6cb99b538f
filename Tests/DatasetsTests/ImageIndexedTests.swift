import Datasets
import Foundation
import TestSupport
import XCTest

/// Palette indices against PIL's np.array(Image.open(f)) (fixtures from
/// scripts/fixtures/make_indexed_png_fixtures.py), and the indexed writer read back by both.
final class ImageIndexedTests: XCTestCase {
    struct Expected: Decodable {
        let width: Int
        let height: Int
        let mode: String
        let indices: [Int]
        let palette: [Int]?
    }

    func loadExpected() throws -> [String: Expected] {
        try TestPaths.decodeFixture([String: Expected].self, "indexed.json")
    }

    func path(_ name: String) -> String { TestPaths.fixtures() + "/indexed/" + name }

    func testLoadIndexed_MatchesPIL() throws {
        let expected = try loadExpected()
        XCTAssertEqual(expected.count, 4)
        for (name, exp) in expected.sorted(by: { $0.key < $1.key }) {
            let image = try ImageIO.loadIndexed(path(name))
            XCTAssertEqual(image.width, exp.width, name)
            XCTAssertEqual(image.height, exp.height, name)
            XCTAssertEqual(image.indices.map(Int.init), exp.indices, name)
            if exp.mode == "P", let pal = exp.palette {
                // PIL pads a short palette with nothing: compare the colours the file holds.
                let got = try XCTUnwrap(image.palette, name).map(Int.init)
                XCTAssertEqual(got, Array(pal.prefix(got.count)), name)
                XCTAssertGreaterThan(got.count, 0, name)
            } else {
                XCTAssertNil(image.palette, name)
            }
        }
    }

    func testLoadIndexed_VoidStays255() throws {
        let image = try ImageIO.loadIndexed(path("voc_class.png"))
        XCTAssertEqual(image[2, 1], 255)
        XCTAssertEqual(image[3, 2], 15)
        XCTAssertEqual(image.indices.filter { $0 == 255 }.count, 7 * 5 - 5 * 3)
    }

    func testVOCPalette_KnownColours() {
        let p = IndexedImage.vocPalette
        XCTAssertEqual(p.count, 768)
        func colour(_ i: Int) -> [UInt8] { Array(p[(3 * i)..<(3 * i + 3)]) }
        // The colours the VOC devkit documents: background, aeroplane, person (15), void.
        XCTAssertEqual(colour(0), [0, 0, 0])
        XCTAssertEqual(colour(1), [128, 0, 0])
        XCTAssertEqual(colour(15), [192, 128, 128])
        XCTAssertEqual(colour(255), [224, 224, 192])
        // The fixture's palette was written by the same map in Python.
        let exp = try? loadExpected()["voc_class.png"]?.palette
        XCTAssertEqual(exp.flatMap { $0 }, p.map(Int.init))
    }

    func testEncodeIndexed_RoundTripsAndKeepsRGBPath() throws {
        var indices = [UInt8](repeating: 0, count: 9 * 5)
        for i in indices.indices { indices[i] = UInt8((i * 37) % 21) }
        indices[7] = 255
        let image = IndexedImage(width: 9, height: 5, indices: indices, palette: IndexedImage.vocPalette)
        let bytes = try ImageIO.encodeIndexedPNG(image)
        XCTAssertEqual(try ImageIO.decodeIndexed(bytes, path: "x.png"), image)
        // The RGB decoder expands the same file through the palette.
        let rgb = try ImageIO.decode(bytes, path: "x.png")
        for (i, v) in indices.enumerated() {
            XCTAssertEqual(Array(rgb.pixels[(3 * i)..<(3 * i + 3)]), Array(IndexedImage.vocPalette[(3 * Int(v))..<(3 * Int(v) + 3)]))
        }
        // Gray without a palette.
        let gray = IndexedImage(width: 9, height: 5, indices: indices)
        XCTAssertEqual(try ImageIO.decodeIndexed(try ImageIO.encodeIndexedPNG(gray), path: "g.png"), gray)
    }

    func testDecodeIndexed_RGBRefusedNamingFile() throws {
        let rgb = try ImageIO.encodePNG(RGBImage(width: 4, height: 3, fill: (1, 2, 3)))
        XCTAssertThrowsError(try ImageIO.decodeIndexed(rgb, path: "masks/a.png")) { error in
            XCTAssertEqual(error as? DatasetError, .notIndexedImage(path: "masks/a.png", layout: "8-bit RGB"))
            XCTAssertTrue("\(error)".hasPrefix("masks/a.png: the PNG is 8-bit RGB, not palette"), "\(error)")
        }
        let jpeg = try ImageIO.encodeJPEG(RGBImage(width: 4, height: 3))
        XCTAssertThrowsError(try ImageIO.decodeIndexed(jpeg, path: "b.jpg")) { error in
            XCTAssertEqual((error as? DatasetError)?.path, "b.jpg")
        }
        XCTAssertThrowsError(try ImageIO.decodeIndexed(Array(rgb.prefix(40)), path: "c.png")) { error in
            XCTAssertEqual((error as? DatasetError)?.path, "c.png")
        }
    }

    func testEncodeIndexed_IndexBeyondPaletteRefused() {
        let image = IndexedImage(width: 2, height: 1, indices: [0, 4], palette: [0, 0, 0, 9, 9, 9])
        XCTAssertThrowsError(try ImageIO.saveIndexed(image, to: "/nonexistent/y.png")) { error in
            XCTAssertEqual((error as? DatasetError)?.path, "/nonexistent/y.png")
        }
    }
}
