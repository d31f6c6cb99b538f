import Augment
import Datasets
import Foundation
import TestSupport
import XCTest

/// Resampling against Pillow's Image.resize, and the HSV jitter against OpenCV, on fixtures
/// written by scripts/fixtures/augment_reference.py.
final class PILParityTests: XCTestCase {
    func load(_ name: String) throws -> RGBImage { try ImageIO.load(TestPaths.fixtures() + "/" + name) }

    /// Largest absolute difference and the count of differing bytes.
    func compare(_ a: RGBImage, _ b: RGBImage) -> (maxDiff: Int, differing: Int) {
        var m = 0, n = 0
        for (x, y) in zip(a.pixels, b.pixels) {
            let d = abs(Int(x) - Int(y))
            m = max(m, d)
            if d > 0 { n += 1 }
        }
        return (m, n)
    }

    func checkResize(_ filter: ResampleFilter) throws {
        let input = try load("input.png")
        let sizes = [(20, 15), (30, 23), (13, 40), (61, 20), (100, 80), (133, 97), (7, 5), (61, 47)]
        for (w, h) in sizes {
            let expected = try load("resize_\(filter.rawValue)_\(w)x\(h).png")
            let got = input.resized(width: w, height: h, filter: filter)
            XCTAssertEqual([got.width, got.height], [w, h])
            let (maxDiff, differing) = compare(got, expected)
            XCTAssertLessThanOrEqual(maxDiff, 1, "\(filter) \(w)x\(h): max difference \(maxDiff) grey levels, \(differing) bytes differ")
            if differing > 0 { print("\(filter) \(w)x\(h): \(differing) bytes differ by \(maxDiff)") }
        }
    }

    func testBilinear_MatchesPILWithinOneLevel() throws { try checkResize(.bilinear) }

    func testBicubic_MatchesPILWithinOneLevel() throws { try checkResize(.bicubic) }

    struct HSVCase: Decodable {
        var gains: [Double]
        var file: String
    }

    func testHSVJitter_MatchesOpenCVLookupMethod() throws {
        let path = TestPaths.fixtures() + "/hsv.json"
        guard FileManager.default.fileExists(atPath: path) else {
            let reason = "hsv.json absent (the fixture script ran without cv2); skipping"
            print(reason)
            throw XCTSkip(reason)
        }
        let cases = try JSONDecoder().decode([HSVCase].self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        let input = try load("input.png")
        for c in cases {
            let expected = try load(c.file)
            let got = HSVJitter.apply(input, gains: (c.gains[0], c.gains[1], c.gains[2]))
            let (maxDiff, differing) = compare(got, expected)
            XCTAssertLessThanOrEqual(maxDiff, 1, "gains \(c.gains): max difference \(maxDiff), \(differing) bytes differ")
            if differing > 0 { print("hsv \(c.gains): \(differing) bytes differ by \(maxDiff)") }
        }
    }
}
