import Foundation
import XCTest

extension XCTestCase {
    /// A new empty folder `label-<UUID>` under the temporary directory, removed when the test ends.
    public func makeTemporaryDirectory(_ label: String = "detrkit") throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }
}
