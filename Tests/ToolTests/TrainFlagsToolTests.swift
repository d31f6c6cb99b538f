import Foundation
import XCTest

/// detr-train's flags: `--help` lists every group's flags, and the named choices (preset,
/// optimizer, schedule) are parsed by the command line, which names the valid values.
final class TrainFlagsToolTests: XCTestCase {
    func testHelp_ListsTheGroupsAndTheChoices() throws {
        let r = try ToolRunner.run("detr-train", ["--help"], in: NSTemporaryDirectory())
        XCTAssertEqual(r.status, 0, r.stderr)
        let text = r.stdout.replacingOccurrences(of: "\n", with: " ").split(separator: " ").joined(separator: " ")
        for flag in ["--val", "--preset", "--model", "--d-model", "--no-aux-loss", "--freeze-epochs", "--optimizer", "--schedule",
                     "--epochs", "--workers", "--resume", "--strict-images"] {
            XCTAssertTrue(text.contains(flag + " "), "\(flag) missing in \(r.stdout)")
        }
        XCTAssertTrue(text.contains("values: cos, step, constant; default: cos"), r.stdout)
        XCTAssertTrue(text.contains("values: adamw, sgd; default: adamw"), r.stdout)
        XCTAssertTrue(text.contains("values: detr, reference, none, flip; default: detr"), r.stdout)
    }

    func testUnknownChoice_IsAUsageErrorNamingTheValues() throws {
        for (flag, value, valid) in [("--optimizer", "rmsprop", ["adamw", "sgd"]), ("--schedule", "cosine", ["cos", "step", "constant"]),
                                     ("--preset", "mosaic", ["detr", "reference", "none", "flip"])] {
            let r = try ToolRunner.run("detr-train", ["train.txt", flag, value], in: NSTemporaryDirectory())
            XCTAssertEqual(r.status, 64, r.stderr)
            XCTAssertTrue(r.stderr.contains("'\(value)' is invalid for '\(flag)"), r.stderr)
            for name in valid { XCTAssertTrue(r.stderr.contains("'\(name)'"), "\(name) in \(r.stderr)") }
        }
    }
}
