import Datasets
import Foundation
import XCTest

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
