import Datasets
import Foundation
import TestSupport
import XCTest

/// Decoding against PIL's Image.open(f).convert('RGB') (fixtures from
/// scripts/fixtures/make_image_fixtures.py).
final class ImageDecodeTests: XCTestCase {
    struct Expected: Decodable {
        let width: Int
        let height: Int
        let mode: String
        let rgb_hex: String
        var rgb: [UInt8] {
            var out: [UInt8] = []
            var it = rgb_hex.utf8.makeIterator()
            func nib(_ c: UInt8) -> UInt8 { c <= 57 ? c - 48 : c - 87 }
            while let a = it.next(), let b = it.next() { out.append(nib(a) << 4 | nib(b)) }
            return out
        }
    }

    func loadExpected() throws -> [String: Expected] {
        let data = try Data(contentsOf: URL(fileURLWithPath: TestPaths.fixtures() + "/images.json"))
        return try JSONDecoder().decode([String: Expected].self, from: data)
    }

    func testDecode_MatchesPIL() throws {
        let expected = try loadExpected()
        XCTAssertEqual(expected.count, 15)
        for (name, exp) in expected.sorted(by: { $0.key < $1.key }) {
            let img = try ImageIO.load(TestPaths.fixtures() + "/images/" + name)
            XCTAssertEqual(img.width, exp.width, name)
            XCTAssertEqual(img.height, exp.height, name)
            let want = exp.rgb
            XCTAssertEqual(img.pixels.count, want.count, name)
            // PNG is lossless: exact. JPEG: the same libjpeg-turbo algorithms (islow IDCT, fancy
            // upsampling) as PIL; allow one grey level for a different build.
            let path = TestPaths.fixtures() + "/images/" + name
            let tolerance = ImageFormat.sniff(try FileIO.readBytes(path)) == .jpeg ? 1 : 0
            var worst = 0
            for (a, b) in zip(img.pixels, want) { worst = max(worst, abs(Int(a) - Int(b))) }
            XCTAssertLessThanOrEqual(worst, tolerance, "\(name) (\(exp.mode)): max difference \(worst)")
        }
    }

    func testSniff_FormatFromBytesNotName() throws {
        let bytes = try FileIO.readBytes(TestPaths.fixtures() + "/images/png_named.jpg")
        XCTAssertEqual(ImageFormat.sniff(bytes), .png)
        XCTAssertEqual(ImageFormat.sniff(try FileIO.readBytes(TestPaths.fixtures() + "/images/cmyk.jpg")), .jpeg)
        XCTAssertEqual(ImageFormat.sniff(Array("GIF89a....".utf8)), .gif)
        XCTAssertEqual(ImageFormat.sniff([UInt8]()), .unknown)
    }

    func testHeaderSize_EqualsDecodedSize() throws {
        for name in ["rgb.png", "palette.png", "progressive.jpg", "cmyk.jpg", "gray.jpg"] {
            let path = TestPaths.fixtures() + "/images/" + name
            let size = try ImageIO.size(ofFile: path)
            let img = try ImageIO.load(path)
            XCTAssertEqual(size.width, img.width, name)
            XCTAssertEqual(size.height, img.height, name)
        }
    }
}
