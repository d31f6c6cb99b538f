import Datasets
import Foundation
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Images whose header claims more pixels than PIL would decode are refused from the header,
/// before any allocation (three fuzzer findings: a 521-byte JPEG that took seconds to decode, a
/// 340-byte PNG that asked for 3 GB, and a 274-byte progressive JPEG whose decompressor, once
/// started, asked for 5.9 GB of coefficient buffers).
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

    /// The progressive JPEG claims 30004 x 65280 pixels: starting libjpeg's decompressor would
    /// allocate its whole-image coefficient buffers (5.9 GB) before the size could be refused.
    /// With the address space capped at 1 GB above what the process maps now, such an
    /// allocation fails (libjpeg then reports "Insufficient memory", a corrupt-image error);
    /// the size must be refused from the header instead.
    func testProgressiveJPEG_IsRefusedBeforeTheDecompressorAllocates() throws {
        let bytes = try corpus("image/jpeg-progressive-30004x65280.jpg")
        var saved = rlimit()
        XCTAssertEqual(getrlimit(Int32(RLIMIT_AS.rawValue), &saved), 0)
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let vmSizeKB = status.split(separator: "\n").first { $0.hasPrefix("VmSize:") }
            .flatMap { $0.split(separator: " ").compactMap { Int($0) }.first } ?? 0
        XCTAssertGreaterThan(vmSizeKB, 0)
        var capped = saved
        capped.rlim_cur = rlim_t((vmSizeKB + (1 << 20)) * 1024)
        XCTAssertEqual(setrlimit(Int32(RLIMIT_AS.rawValue), &capped), 0)
        let result = Result { try ImageIO.decode(bytes, path: "progressive.jpg") }
        XCTAssertEqual(setrlimit(Int32(RLIMIT_AS.rawValue), &saved), 0)
        XCTAssertThrowsError(try result.get()) { error in
            guard case let DatasetError.imageTooLarge(path, w, h) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(path, "progressive.jpg")
            XCTAssertEqual("\(w)x\(h)", "30004x65280")
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
