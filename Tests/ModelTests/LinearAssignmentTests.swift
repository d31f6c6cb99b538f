import Base
import Foundation
import Model
import Tensor
import TestSupport
import XCTest

/// The exact rectangular assignment solver against scipy's linear_sum_assignment (fixtures)
/// and against brute force on random small matrices.
final class LinearAssignmentTests: XCTestCase {
    /// A cost that JSON stores as a number or as "inf" / "-inf".
    struct Cost: Decodable {
        let value: Double
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let d = try? c.decode(Double.self) { value = d; return }
            let s = try c.decode(String.self)
            value = s == "inf" ? .infinity : -.infinity
        }
    }

    struct Case: Decodable {
        let name: String
        let rows: Int
        let columns: Int
        let maximize: Bool
        let cost: [Cost]
        let row_ind: [Int]?
        let col_ind: [Int]?
        let total: Double?
        let error: String?
    }

    struct File: Decodable {
        let scipy: String
        let cases: [Case]
    }

    func testScipyFixtures_SameAssignmentAndTotal() throws {
        let file = try TestPaths.decodeFixture(File.self, "lsap.json")
        XCTAssertGreaterThan(file.cases.count, 30)
        for c in file.cases {
            let values = c.cost.map(\.value)
            if c.error != nil {
                XCTAssertThrowsError(try linearSumAssignment(values, rows: c.rows, columns: c.columns, maximize: c.maximize),
                                     c.name) { XCTAssertEqual($0 as? LinearAssignmentError, .infeasible, c.name) }
                continue
            }
            let a = try linearSumAssignment(values, rows: c.rows, columns: c.columns, maximize: c.maximize)
            let total = a.cost(in: values, columnCount: c.columns)
            XCTAssertEqual(total, c.total!, accuracy: 1e-9 * Swift.max(1, Swift.abs(c.total!)), c.name)
            // Same tie-breaking as scipy: identical even for the integer matrices with ties.
            XCTAssertEqual(a.rows, c.row_ind!, c.name)
            XCTAssertEqual(a.columns, c.col_ind!, c.name)
        }
    }

    /// The best total over all injective maps from the smaller side to the larger, and the
    /// number of assignments reaching it.
    func bruteForce(_ m: [Double], _ rows: Int, _ cols: Int) -> (best: Double, count: Int, rowsToCols: [Int]) {
        let transposed = cols < rows
        let n = transposed ? cols : rows, k = transposed ? rows : cols
        func at(_ i: Int, _ j: Int) -> Double { transposed ? m[j * cols + i] : m[i * cols + j] }
        var best = Double.infinity, count = 0, arg: [Int] = []
        var used = [Bool](repeating: false, count: k), pick = [Int](repeating: 0, count: n)
        func go(_ i: Int, _ acc: Double) {
            if i == n {
                if acc < best - 1e-12 { best = acc; count = 1; arg = pick } else if Swift.abs(acc - best) <= 1e-12 { count += 1 }
                return
            }
            for j in 0..<k where !used[j] {
                used[j] = true
                pick[i] = j
                go(i + 1, acc + at(i, j))
                used[j] = false
            }
        }
        go(0, 0)
        return (best, count, arg)
    }

    func testBruteForce_RandomSmallMatrices() throws {
        var rng = SplitMix64(seed: 11)
        var unique = 0, infeasible = 0
        for trial in 0..<400 {
            let rows = 1 + Int(rng.nextFloat() * 6), cols = 1 + Int(rng.nextFloat() * 6)
            // Half of the trials use small integers (many ties), half continuous values.
            let integer = trial % 2 == 0
            var m = (0..<(rows * cols)).map { _ in integer ? Double(Int(rng.nextFloat() * 4)) : Double(rng.nextFloat()) * 10 - 3 }
            // Every fourth trial forbids some pairs (+inf); some of those are infeasible.
            let forbidding = trial % 4 == 3
            if forbidding { for k in m.indices where rng.nextFloat() < 0.35 { m[k] = .infinity } }
            let bf = bruteForce(m, rows, cols)
            if bf.best == .infinity {
                XCTAssertThrowsError(try linearSumAssignment(m, rows: rows, columns: cols), "trial \(trial)") {
                    XCTAssertEqual($0 as? LinearAssignmentError, .infeasible)
                }
                infeasible += 1
                continue
            }
            let a = try linearSumAssignment(m, rows: rows, columns: cols)
            XCTAssertEqual(a.rows.count, min(rows, cols))
            XCTAssertEqual(a.rows, a.rows.sorted())
            XCTAssertEqual(Set(a.rows).count, a.rows.count)
            XCTAssertEqual(Set(a.columns).count, a.columns.count)
            XCTAssertEqual(a.cost(in: m, columnCount: cols), bf.best, accuracy: 1e-9, "trial \(trial) \(rows)x\(cols)")
            if bf.count == 1 {
                unique += 1
                var expected: [(Int, Int)] = cols < rows ? bf.rowsToCols.enumerated().map { ($1, $0) } : bf.rowsToCols.enumerated().map { ($0, $1) }
                expected.sort { $0.0 < $1.0 }
                XCTAssertEqual(a.rows, expected.map(\.0), "trial \(trial)")
                XCTAssertEqual(a.columns, expected.map(\.1), "trial \(trial)")
            }
            // Maximising equals minimising the negation.
            if forbidding { continue }
            let mx = try linearSumAssignment(m, rows: rows, columns: cols, maximize: true)
            let neg = bruteForce(m.map { -$0 }, rows, cols)
            XCTAssertEqual(mx.cost(in: m, columnCount: cols), -neg.best, accuracy: 1e-9)
        }
        XCTAssertGreaterThan(unique, 150)
        XCTAssertGreaterThan(infeasible, 5)
    }

    func testTensorInput_AndForbiddenEntries() throws {
        let t = Tensor([4, 1, 3, 2, 0, 5, 3, 2, 2], shape: [3, 3])
        let a = try linearSumAssignment(t)
        XCTAssertEqual(a.rows, [0, 1, 2])
        XCTAssertEqual(a.columns, [1, 0, 2])
        // +inf marks a forbidden pair and is avoided.
        let inf = Double.infinity
        let b = try linearSumAssignment([0, inf, inf, 0], rows: 2, columns: 2)
        XCTAssertEqual(b.columns, [0, 1])
    }

    func testEmptyMatrices() throws {
        for (r, c) in [(0, 0), (0, 4), (3, 0)] {
            let a = try linearSumAssignment([Double](repeating: 1, count: r * c), rows: r, columns: c)
            XCTAssertEqual(a, LinearAssignment(rows: [], columns: []))
        }
    }

    func testErrors_AreTyped() {
        func error(_ m: [Double], _ r: Int, _ c: Int, maximize: Bool = false) -> LinearAssignmentError? {
            do {
                _ = try linearSumAssignment(m, rows: r, columns: c, maximize: maximize)
                return nil
            } catch { return error as? LinearAssignmentError }
        }
        XCTAssertEqual(error([1, 2, 3], 2, 2), .shapeMismatch(rows: 2, columns: 2, values: 3))
        XCTAssertEqual(error([1, 2], -1, -2), .shapeMismatch(rows: -1, columns: -2, values: 2))
        XCTAssertEqual(error([1, .nan, 3, 4], 2, 2)?.description.contains("row 0, column 1"), true)
        XCTAssertEqual(error([1, 2, -.infinity, 4], 2, 2), .invalidEntry(row: 1, column: 0, value: -.infinity))
        XCTAssertEqual(error([1, .infinity], 1, 2, maximize: true), .invalidEntry(row: 0, column: 1, value: .infinity))
        XCTAssertEqual(error([.infinity, .infinity, 1, 2], 2, 2), .infeasible)
        XCTAssertEqual(error([.infinity, 1, .infinity, 2, .infinity, 3], 3, 2), .infeasible)
        XCTAssertThrowsError(try linearSumAssignment(Tensor([1, 2, 3], shape: [3])))
    }
}
