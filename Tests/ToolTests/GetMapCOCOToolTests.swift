import Foundation
import XCTest

/// `get-map coco` end to end on the shared val2014_100 pair (published pycocotools stats).
final class GetMapCOCOToolTests: XCTestCase {
    static let binDirectory: String = {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent().path
    }()
    static let shared = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("../shared/data/coco/val2014_100").standardized.path

    func run(_ args: [String]) throws -> (Int32, String, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binDirectory + "/get-map")
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    func testCOCOBBox_PublishedStats() throws {
        guard FileManager.default.fileExists(atPath: Self.shared + "/instances_val2014_100.json") else {
            print("shared data \(Self.shared) is absent; skipping")
            throw XCTSkip("shared data absent")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("getmap-coco-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let json = dir.appendingPathComponent("stats.json").path
        let (status, out, err) = try run(["coco", "--gt", Self.shared + "/instances_val2014_100.json",
                                          "--dt", Self.shared + "/instances_val2014_fakebbox100_results.json", "--json", json])
        XCTAssertEqual(status, 0, err)
        // pycocotools' printed summary, first line (val2014_fake_eval_res.txt).
        XCTAssertTrue(out.contains(" Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.505"), out)
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as! [String: Any]
        let stats = report["stats"] as! [Double]
        XCTAssertEqual(stats.count, 12)
        XCTAssertEqual(stats[0], 0.5045806987249628, accuracy: 1e-12)
        XCTAssertEqual(stats[11], 0.5642905982905982, accuracy: 1e-12)
        XCTAssertNotNil((report["per_category"] as? [String: Any])?["person"])

        let (bad, _, badErr) = try run(["coco", "--gt", Self.shared + "/instances_val2014_100.json", "--dt", "/nonexistent/r.json"])
        XCTAssertNotEqual(bad, 0)
        XCTAssertTrue(badErr.contains("/nonexistent/r.json"), badErr)
    }
}
