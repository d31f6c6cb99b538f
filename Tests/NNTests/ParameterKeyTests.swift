import NN
import XCTest

final class ParameterKeyTests: XCTestCase {
    func testDottedKeys() {
        let key = ParameterKey("backbone.0").appending("body").appending("layer1").appending(0).appending("conv1.weight")
        XCTAssertEqual(key.description, "backbone.0.body.layer1.0.conv1.weight")
        XCTAssertEqual(key.components.count, 7)
    }

    func testPrefixMatchesWholeComponents() {
        let key: ParameterKey = "backbone.0.body.conv1.weight"
        XCTAssertTrue(key.hasPrefix("backbone.0"))
        XCTAssertTrue(key.hasPrefix(ParameterKey()))
        XCTAssertFalse(key.hasPrefix("backbone.01"))
        XCTAssertFalse(key.hasPrefix("backbone.0.body.conv1.weight.x"))
    }
}
