import Base
import Tensor
import XCTest

/// SplitMix64 against the independent Python implementation in
/// scripts/fixtures/voc_reference.py (values in Tests/DatasetsTests/Fixtures/voc_reference.json).
final class SplitMix64Tests: XCTestCase {
    func testOutputs_MatchReference() {
        let cases: [(UInt64, [UInt64])] = [
            (1_234_567, [6_457_827_717_110_365_317, 3_203_168_211_198_807_973, 9_817_491_932_198_370_423]),
        ]
        for (seed, want) in cases {
            var g = SplitMix64(seed: seed)
            XCTAssertEqual((0..<want.count).map { _ in g.next() }, want)
        }
    }

    func testUniformAndNormal_Moments() {
        var g = SplitMix64(seed: 9)
        let n = 200_000
        var sum = 0.0, sumSq = 0.0, fsum = 0.0
        var counts = [Int](repeating: 0, count: 7)
        for _ in 0..<n {
            let f = g.nextFloat()
            XCTAssert(f >= 0 && f < 1)
            fsum += Double(f)
            let z = g.nextNormal()
            sum += z
            sumSq += z * z
            counts[g.nextInt(below: 7)] += 1
        }
        XCTAssertEqual(fsum / Double(n), 0.5, accuracy: 0.005)
        XCTAssertEqual(sum / Double(n), 0, accuracy: 0.01)
        XCTAssertEqual(sumSq / Double(n), 1, accuracy: 0.02)
        for c in counts { XCTAssertEqual(Double(c) / Double(n), 1.0 / 7, accuracy: 0.005) }
    }

    func testSplit_IsDeterministicAndIndependent() {
        var a = SplitMix64(seed: 3)
        var b = SplitMix64(seed: 3)
        var ca = a.split()
        var cb = b.split()
        XCTAssertEqual(ca.next(), cb.next())
        XCTAssertNotEqual(a.next(), ca.next())
    }
}
