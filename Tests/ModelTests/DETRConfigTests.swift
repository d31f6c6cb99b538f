import Foundation
import Model
import XCTest

final class DETRConfigTests: XCTestCase {
    func testDefaults_AreValid_AndRoundTripThroughJSON() throws {
        let c = DETRConfig()
        XCTAssertEqual(c.problems(), [])
        let back = try JSONDecoder().decode(DETRConfig.self, from: JSONEncoder().encode(c))
        XCTAssertEqual(back, c)
    }

    func testProblems_FlagBadConfigs() {
        var c = DETRConfig()
        c.heads = 7
        XCTAssertEqual(c.problems().count, 1)
        c = DETRConfig()
        c.dropout = 1
        c.numQueries = 0
        XCTAssertEqual(c.problems().count, 2)
    }
}
