import Base
import Datasets
import Foundation
import Tensor
import TestSupport
import XCTest

/// The split against the independent Python implementation in scripts/fixtures/voc_reference.py.
final class VOCSplitTests: XCTestCase {
    struct Reference: Decodable {
        struct Split: Decodable {
            let trainval: [String]
            let train: [String]
            let val: [String]
            let test: [String]
        }
        struct Set: Decodable {
            let trainval: [String]
            let train: [String]
            let val: [String]
            let test: [String]
            let split_seed_7: Split
            let boxes: [String: String]
        }
        let splitmix64: [String: [String]]
        let raccoon: Set
        let bccd: Set
    }

    static func reference() throws -> Reference {
        let data = try Data(contentsOf: URL(fileURLWithPath: TestPaths.fixtures() + "/voc_reference.json"))
        return try JSONDecoder().decode(Reference.self, from: data)
    }

    func testSplit_MatchesPythonOracle() throws {
        let ref = try Self.reference()
        for (set, s) in [("raccoon", ref.raccoon), ("bccd", ref.bccd)] {
            let ids = Array(s.boxes.keys).shuffled()  // input order must not matter
            var rng = SplitMix64(seed: 0)
            let split = VOCSplit.make(ids: ids, trainvalPercent: 0.9, trainPercent: 0.9, using: &rng)
            XCTAssertEqual(split.trainval, s.trainval, set)
            XCTAssertEqual(split.train, s.train, set)
            XCTAssertEqual(split.val, s.val, set)
            XCTAssertEqual(split.test, s.test, set)
            var rng7 = SplitMix64(seed: 7)
            let split7 = VOCSplit.make(ids: ids, trainvalPercent: 0.8, trainPercent: 0.75, using: &rng7)
            XCTAssertEqual(split7.train, s.split_seed_7.train, set)
            XCTAssertEqual(split7.val, s.split_seed_7.val, set)
            XCTAssertEqual(split7.test, s.split_seed_7.test, set)
        }
        XCTAssertEqual(ref.raccoon.trainval.count, 180)
        XCTAssertEqual(ref.raccoon.train.count, 162)
        XCTAssertEqual(ref.raccoon.val.count, 18)
        XCTAssertEqual(ref.raccoon.test.count, 20)
    }

    func testSplit_Properties() {
        let ids = (0..<57).map { "img\($0)" }
        var rng = SplitMix64(seed: 42)
        let s = VOCSplit.make(ids: ids, trainvalPercent: 0.7, trainPercent: 0.5, using: &rng)
        XCTAssertEqual(s.trainval.count, 39)  // int(57 * 0.7) = int(39.9)
        XCTAssertEqual(s.train.count, 19)     // int(39 * 0.5)
        XCTAssertEqual(Set(s.train).union(s.val), Set(s.trainval))
        XCTAssertTrue(Set(s.train).isDisjoint(with: s.val))
        XCTAssertEqual(Set(s.trainval).union(s.test), Set(ids))
        XCTAssertTrue(Set(s.trainval).isDisjoint(with: s.test))
        for list in [s.trainval, s.train, s.val, s.test] {
            XCTAssertEqual(list, list.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        }
        var again = SplitMix64(seed: 42)
        XCTAssertEqual(VOCSplit.make(ids: ids, trainvalPercent: 0.7, trainPercent: 0.5, using: &again), s)
        var other = SplitMix64(seed: 43)
        XCTAssertNotEqual(VOCSplit.make(ids: ids, trainvalPercent: 0.7, trainPercent: 0.5, using: &other).train, s.train)
        var r = SplitMix64(seed: 1)
        XCTAssertEqual(VOCSplit.make(ids: [], trainvalPercent: 0.9, trainPercent: 0.9, using: &r),
                       VOCSplit(trainval: [], train: [], val: [], test: []))
    }
}
