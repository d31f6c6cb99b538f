import Augment
import Foundation
import Pipeline
import XCTest

/// The transforms preset, optimizer and schedule are enums that `state.json` stores by name:
/// old checkpoints load, the names written are the old ones, and an unknown name is an error
/// naming the file, the key and the name.
final class TrainChoicesTests: XCTestCase {
    static let stateFile = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/checkpoint_v1/state.json").path

    func fixtureJSON() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.stateFile))) as! [String: Any]
    }

    func testCheckpointV1_ChoicesDecodeAndEncodeByTheirNames() throws {
        let state = try CheckpointState.decode(Data(contentsOf: URL(fileURLWithPath: Self.stateFile)), path: Self.stateFile)
        XCTAssertEqual(state.preset, Preset.none)
        let training = try XCTUnwrap(state.training)
        XCTAssertEqual(training.preset, Preset.none)
        XCTAssertEqual(training.optimizer, .adamw)
        XCTAssertEqual(training.schedule, .cosine)

        var other = training
        other.preset = .reference
        other.optimizer = .sgd
        other.schedule = .step
        let text = String(decoding: try other.encodedJSON(), as: UTF8.self)
        for pair in [#""preset" : "reference""#, #""optimizer" : "sgd""#, #""schedule" : "step""#] {
            XCTAssertTrue(text.contains(pair), "\(pair) in \(text)")
        }
        let written = String(decoding: try state.encoded(), as: UTF8.self)
        for pair in [#""preset" : "none""#, #""optimizer" : "adamw""#, #""schedule" : "cos""#] {
            XCTAssertTrue(written.contains(pair), "\(pair) in \(written)")
        }
    }

    func testUnknownNames_AreClearErrors() throws {
        let cases: [(key: String, inTraining: Bool, value: String, expected: String)] = [
            ("preset", false, "mosaic", "preset: unknown preset 'mosaic' (detr, reference, none, flip)"),
            ("preset", true, "mosaic", "training.preset: unknown preset 'mosaic' (detr, reference, none, flip)"),
            ("optimizer", true, "rmsprop", "training.optimizer: unknown optimizer 'rmsprop' (adamw, sgd)"),
            ("schedule", true, "cosine", "training.schedule: unknown schedule 'cosine' (cos, step, constant)"),
        ]
        for c in cases {
            var json = try fixtureJSON()
            if c.inTraining {
                var training = json["training"] as! [String: Any]
                training[c.key] = c.value
                json["training"] = training
            } else {
                json[c.key] = c.value
            }
            let data = try JSONSerialization.data(withJSONObject: json)
            XCTAssertThrowsError(try CheckpointState.decode(data, path: "ck/state.json")) { e in
                let s = "\(e)"
                XCTAssertTrue(s.hasPrefix("ck/state.json: ") && s.contains(c.expected), "expected '\(c.expected)' in: \(s)")
            }
        }
    }

    func testCommandLineNames() {
        XCTAssertEqual(LRScheduleKind(argument: "cos"), .cosine)
        XCTAssertNil(LRScheduleKind(argument: "cosine"))
        XCTAssertEqual(OptimizerKind(argument: "sgd"), .sgd)
        XCTAssertEqual(Preset(argument: "flip"), .flip)
        XCTAssertEqual(LRScheduleKind.allValueStrings, ["cos", "step", "constant"])
        XCTAssertEqual(LRScheduleKind.cosine.defaultValueDescription, "cos")
    }
}
