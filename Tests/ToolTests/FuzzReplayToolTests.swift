import TestSupport
import XCTest

/// The fuzz harness's replay mode: every target reads its seeds and the regression inputs of
/// past findings (`Tests/FuzzCorpus/<target>/`) without trapping.
final class FuzzReplayToolTests: XCTestCase {
    func testEveryTargetReplaysItsSeeds() throws {
        let list = try ToolRunner.run("detr-fuzz", ["--list"])
        XCTAssertEqual(list.status, 0, list.stderr)
        let targets = list.lines.map { $0.split(separator: " ").map(String.init) }
        XCTAssertEqual(targets.count, 12, list.stdout)
        for fields in targets {
            let root = TestPaths.repositoryRoot
            let seeds = (fields.dropFirst() + ["Tests/FuzzCorpus/" + fields[0]]).map { root + "/" + $0 }
                .filter { FileManager.default.fileExists(atPath: $0) }
            XCTAssertFalse(seeds.isEmpty, "\(fields[0]) has no seeds")
            let r = try ToolRunner.run("detr-fuzz", [fields[0]] + seeds)
            XCTAssertEqual(r.status, 0, "\(fields[0]): \(r.stderr)")
            let count = Int(r.lastLine.split(separator: " ")[1]) ?? 0
            XCTAssertGreaterThan(count, 0, r.lastLine)
        }
        let bad = try ToolRunner.run("detr-fuzz", ["no-such-target", "x"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("voc-xml"), bad.stderr)
    }
}
