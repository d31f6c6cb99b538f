import Base
import Datasets
import Tensor
import TestSupport
import XCTest

final class ImageEncodeTests: XCTestCase {
    func randomImage(_ w: Int, _ h: Int, seed: UInt64) -> RGBImage {
        var rng = SplitMix64(seed: seed)
        return RGBImage(width: w, height: h, pixels: (0..<(w * h * 3)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
    }

    func testPNG_RoundTripIsExact() throws {
        for (w, h) in [(1, 1), (13, 7), (64, 33)] {
            let img = randomImage(w, h, seed: UInt64(w * 100 + h))
            let decoded = try ImageIO.decode(try ImageIO.encodePNG(img), path: "mem.png")
            XCTAssertEqual(decoded, img)
        }
    }

    func testPNG_GrayAndRGBAEncodings() throws {
        let gray: [UInt8] = [0, 50, 100, 150, 200, 250]
        let g = try ImageIO.decode(try ImageIO.encodePNG(pixels: gray, width: 3, height: 2, channels: 1), path: "g.png")
        XCTAssertEqual(g.pixels, gray.flatMap { [$0, $0, $0] })
        let rgba: [UInt8] = [1, 2, 3, 0, 4, 5, 6, 255]
        let c = try ImageIO.decode(try ImageIO.encodePNG(pixels: rgba, width: 2, height: 1, channels: 4), path: "c.png")
        XCTAssertEqual(c.pixels, [1, 2, 3, 4, 5, 6], "alpha is dropped, not composited")
    }

    func testJPEG_QualityControlsError() throws {
        // A smooth image so that JPEG's error is small; higher quality, smaller error, bigger file.
        var img = RGBImage(width: 64, height: 48)
        for y in 0..<48 { for x in 0..<64 { img[x, y] = (UInt8(x * 4), UInt8(y * 5), UInt8((x + y) * 2)) } }
        var lastError = Double.infinity
        var lastSize = 0
        for q in [30, 70, 95] {
            let bytes = try ImageIO.encodeJPEG(img, quality: q)
            XCTAssertEqual(ImageFormat.sniff(bytes), .jpeg)
            let back = try ImageIO.decode(bytes, path: "q\(q).jpg")
            XCTAssertEqual(back.width, 64)
            XCTAssertEqual(back.height, 48)
            let mae = zip(back.pixels, img.pixels).map { abs(Double($0) - Double($1)) }.reduce(0, +) / Double(img.pixels.count)
            XCTAssertLessThan(mae, lastError, "quality \(q)")
            XCTAssertGreaterThan(bytes.count, lastSize, "quality \(q)")
            lastError = mae
            lastSize = bytes.count
        }
        XCTAssertLessThan(lastError, 1.5)
    }

    func testSave_WritesFormatByExtension() throws {
        let dir = try makeTemporaryDirectory()
        let img = randomImage(9, 5, seed: 3)
        try ImageIO.save(img, to: dir + "/a.png")
        try ImageIO.save(img, to: dir + "/a.jpg", quality: 90)
        XCTAssertEqual(try ImageIO.load(dir + "/a.png"), img)
        XCTAssertEqual(ImageFormat.sniff(try FileIO.readBytes(dir + "/a.jpg")), .jpeg)
    }
}
