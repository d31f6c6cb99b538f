import Foundation
import XCTest

/// Paths the tests read: the fixtures folder of the calling test target, the repository root
/// and the shared data beside the repository (../shared/data), which a user's clone lacks.
public enum TestPaths {
    /// The repository root (this file is Tests/TestSupport/TestPaths.swift).
    public static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    public static let sharedData = URL(fileURLWithPath: repositoryRoot + "/../shared/data").standardized.path

    /// The Fixtures folder of the test target whose file calls this (Tests/<Target>/Fixtures).
    public static func fixtures(_ caller: String = #filePath) -> String {
        URL(fileURLWithPath: caller).deletingLastPathComponent().path + "/Fixtures"
    }

    /// `name` decoded from JSON in the calling test target's Fixtures folder.
    public static func decodeFixture<T: Decodable>(_ type: T.Type, _ name: String, caller: String = #filePath) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(contentsOf: URL(fileURLWithPath: fixtures(caller) + "/" + name)))
    }

    /// `relative` under the shared data, or a skip with a printed reason when `relative` (or,
    /// if given, `relative/marker`) is absent.
    public static func shared(_ relative: String, requiring marker: String? = nil) throws -> String {
        let path = URL(fileURLWithPath: sharedData + "/" + relative).standardized.path
        let required = marker.map { path + "/" + $0 } ?? path
        guard FileManager.default.fileExists(atPath: required) else {
            let reason = "shared data \(required) is absent (a user's clone has no ../shared); skipping"
            print(reason)
            throw XCTSkip(reason)
        }
        return path
    }

    /// The shared VOC set `name` (a folder with VOCdevkit/VOC2007), or a skip.
    public static func sharedVOC(_ name: String) throws -> String {
        try shared("voc/" + name, requiring: "VOCdevkit/VOC2007/Annotations")
    }
}
