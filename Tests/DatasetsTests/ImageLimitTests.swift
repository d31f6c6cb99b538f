import Datasets
import TestSupport
import XCTest

/// Images whose header claims more pixels than PIL would decode are refused from the header,
/// before any allocation (two fuzzer findings: a 521-byte JPEG that took seconds to decode and
/// a 340-byte PNG that asked for 3 GB).
final class ImageLimitTests: XCTestCase {
    func corpus(_ name: String) throws -> [UInt8] {
        try FileIO.readBytes(TestPaths.repositoryRoot + "/Tests/FuzzCorpus/" + name)
    }

    /// A well-formed small PNG whose IHDR claims 23553 x 32519 pixels (the fuzzer's PNG's size;
    /// that file itself has a bad IHDR CRC and chunk type, which libpng reports), CRC set right,
    /// so that only the size stops it.
    func oversizedPNG() throws -> [UInt8] {
        var bytes = try ImageIO.encodePNG(RGBImage(width: 3, height: 2))
        for (o, v) in [(16, 23553), (20, 32519)] {
            for k in 0..<4 { bytes[o + k] = UInt8(truncatingIfNeeded: v >> (24 - 8 * k)) }
        }
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes[12..<29] {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        crc ^= 0xFFFF_FFFF
        for k in 0..<4 { bytes[29 + k] = UInt8(truncatingIfNeeded: crc >> (24 - 8 * k)) }
        return bytes
    }

    func testOversizedHeaders_AreRefusedNamingTheFileAndSize() throws {
        let cases = [(try corpus("image/jpeg-cmyk-18757x20036-truncated.jpg"), "20036x18757"),
                     (try oversizedPNG(), "23553x32519")]
        for (bytes, size) in cases {
            let name = size
            XCTAssertThrowsError(try ImageIO.decode(bytes, path: "big.img")) { error in
                guard case let DatasetError.imageTooLarge(path, w, h) = error else { return XCTFail("\(name): \(error)") }
                XCTAssertEqual(path, "big.img")
                XCTAssertEqual("\(w)x\(h)", size)
                XCTAssertGreaterThan(w * h, ImageIO.maxPixels)
                XCTAssertTrue("\(error)".hasPrefix("big.img: image of \(size) pixels is over the limit of 178956970 pixels"), "\(error)")
            }
            XCTAssertNil(ImageIO.decodePNGSegmentIDs(bytes), name)
            let reader = PNGSegmentRowReader()
            XCTAssertNil(bytes.withUnsafeBufferPointer { reader.begin($0) }, name)
        }
    }

    func testTheFuzzerPNG_IsACRCErrorWithoutAllocating() throws {
        let bytes = try corpus("png-segment-ids/png-rgb-23553x32519.png")
        XCTAssertNil(ImageIO.decodePNGSegmentIDs(bytes))
        XCTAssertThrowsError(try ImageIO.decode(bytes, path: "crc.png")) { error in
            XCTAssertTrue("\(error)".hasPrefix("crc.png: corrupt PNG image: "), "\(error)")
        }
    }

    func testTheLimitIsPILs() throws {
        // PIL: Image.MAX_IMAGE_PIXELS = int(1024 * 1024 * 1024 // 4 // 3); over twice that, DecompressionBombError.
        XCTAssertEqual(ImageIO.maxPixels, 2 * (1024 * 1024 * 1024 / 4 / 3))
        // A header just under the limit still decodes (a flat 1x1 PNG is far under; the size
        // check alone is what is tested here).
        let png = try ImageIO.encodePNG(RGBImage(width: 3, height: 2))
        XCTAssertEqual(try ImageIO.decode(png, path: "small.png").width, 3)
    }
}
