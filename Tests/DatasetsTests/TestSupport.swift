import Datasets
import Foundation
import XCTest

/// Paths the tests read: fixtures beside this file, the shared data next to the repository.
enum TestPaths {
    static let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
    static let fixtures = testsDirectory + "/Fixtures"
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let sharedData = URL(fileURLWithPath: repositoryRoot + "/../shared/data").standardized.path

    /// The shared VOC set `name`, or a skip with a printed reason when it is absent.
    static func sharedVOC(_ name: String) throws -> String {
        let path = sharedData + "/voc/" + name
        guard FileManager.default.fileExists(atPath: path + "/VOCdevkit/VOC2007/Annotations") else {
            let reason = "shared data \(path) is absent (a user's clone has no ../shared); skipping"
            print(reason)
            throw XCTSkip(reason)
        }
        return path
    }
}

/// A fresh temporary directory, removed at the end of the test.
func makeTemporaryDirectory(_ test: XCTestCase) throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("detrkit-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url.path
}

/// A devkit of symlinks to a shared one, so that tools writing ImageSets never touch ../shared.
func symlinkedDevkit(from shared: String, into dir: String) throws -> String {
    let root = dir + "/VOCdevkit"
    try FileManager.default.createDirectory(atPath: root + "/VOC2007", withIntermediateDirectories: true)
    for sub in ["Annotations", "JPEGImages"] {
        try FileManager.default.createSymbolicLink(atPath: root + "/VOC2007/" + sub,
                                                   withDestinationPath: shared + "/VOCdevkit/VOC2007/" + sub)
    }
    return root
}

/// Asserts that `body` throws a DatasetError whose message names `file` (and, if given, contains `fragment`).
func assertThrowsNaming(_ file: String, _ fragment: String? = nil, file f: StaticString = #filePath, line: UInt = #line,
                        _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected an error naming \(file)", file: f, line: line)
    } catch let error as DatasetError {
        let message = "\(error)"
        XCTAssertTrue(message.contains(file), "message '\(message)' does not name \(file)", file: f, line: line)
        if let fragment {
            XCTAssertTrue(message.contains(fragment), "message '\(message)' lacks '\(fragment)'", file: f, line: line)
        }
    } catch {
        XCTFail("unexpected error type: \(error)", file: f, line: line)
    }
}
