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

    /// Checkpoints store a config as one flat object: the shared settings' keys beside the
    /// family's own (the layout of every state.json written so far).
    func testConfigs_EncodeAsOneFlatObject() throws {
        func object(_ config: some Encodable) throws -> [String: Any] {
            let o = try XCTUnwrap(JSONSerialization.jsonObject(with: JSONEncoder().encode(config)) as? [String: Any])
            XCTAssertNil(o["shared"])
            XCTAssertNil(o["own"])
            return o
        }
        var d = DETRConfig()
        d.dModel = 64
        d.preNorm = true
        let o = try object(d)
        XCTAssertEqual(o["dModel"] as? Int, 64)
        XCTAssertEqual(o["numQueries"] as? Int, 100)
        XCTAssertEqual(o["preNorm"] as? Bool, true)
        XCTAssertEqual(o["lossCE"] as? Double, 1)
        var k = ConditionalDETRConfig()
        k.groups = 3
        k.focalAlpha = 0.5
        let p = try object(k)
        XCTAssertEqual(p["groups"] as? Int, 3)
        XCTAssertEqual(p["numQueries"] as? Int, 300)
        XCTAssertEqual(p["focalAlpha"] as? Double, 0.5)
        XCTAssertEqual(p["costClass"] as? Double, 2)
        let back = try JSONDecoder().decode(ConditionalDETRConfig.self, from: JSONEncoder().encode(k))
        XCTAssertEqual(back, k)
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
