import Tensor

/// Why a cost matrix could not be assigned.
public enum LinearAssignmentError: Error, Equatable, CustomStringConvertible {
    /// `values.count != rows * columns`, or negative dimensions.
    case shapeMismatch(rows: Int, columns: Int, values: Int)
    /// A NaN or -infinity entry (+infinity when maximising); +infinity (forbidden pairs) is
    /// allowed when minimising, as in scipy.
    case invalidEntry(row: Int, column: Int, value: Double)
    /// No complete assignment avoids the infinite (forbidden) entries.
    case infeasible

    public var description: String {
        switch self {
        case let .shapeMismatch(r, c, v): return "linear assignment: \(v) costs for a \(r) x \(c) matrix"
        case let .invalidEntry(r, c, v): return "linear assignment: invalid cost \(v) at row \(r), column \(c)"
        case .infeasible: return "linear assignment: the cost matrix is infeasible"
        }
    }
}

/// An optimal assignment: `rows[k]` is assigned to `columns[k]`; `rows` is increasing and has
/// min(rows, columns) entries (scipy's `linear_sum_assignment` output).
public struct LinearAssignment: Equatable, Sendable {
    public var rows: [Int]
    public var columns: [Int]

    public init(rows: [Int], columns: [Int]) {
        self.rows = rows
        self.columns = columns
    }

    /// The total cost of the assignment in a row-major matrix with `columnCount` columns
    /// (NaN if the matrix does not hold every assigned entry).
    public func cost(in matrix: [Double], columnCount: Int) -> Double {
        var total = 0.0
        for (r, c) in zip(rows, columns) {
            let k = r * columnCount + c
            guard c < columnCount, k >= 0, k < matrix.count else { return .nan }
            total += matrix[k]
        }
        return total
    }
}

/// Solves the rectangular linear assignment problem exactly: picks min(rows, columns) entries
/// of a row-major `rows x columns` cost matrix, no two in the same row or column, with the
/// least (or, with `maximize`, greatest) total.
///
/// The method is the shortest augmenting path algorithm of Jonker & Volgenant as described
/// by Crouse (2016), the one scipy's `linear_sum_assignment` implements, written here from
/// the paper's description: rows are added one at a time; for each, a Dijkstra-like search
/// over reduced costs `c[i][j] - u[i] - v[j]` finds the cheapest augmenting path to a free
/// column, then the dual variables are updated and the path is flipped. A wide matrix
/// (more rows than columns) is solved transposed. Ties are broken as scipy breaks them, so
/// the assignment is the same as scipy's whenever the arithmetic agrees (always where the
/// optimum is unique); the total is optimal in every case. Work in Double.
public func linearSumAssignment(_ values: [Double], rows: Int, columns: Int,
                                maximize: Bool = false) throws -> LinearAssignment {
    guard rows >= 0, columns >= 0, values.count == rows * columns else {
        throw LinearAssignmentError.shapeMismatch(rows: rows, columns: columns, values: values.count)
    }
    for r in 0..<rows {
        for c in 0..<columns {
            let v = values[r * columns + c]
            if v.isNaN || v == (maximize ? Double.infinity : -Double.infinity) {
                throw LinearAssignmentError.invalidEntry(row: r, column: c, value: v)
            }
        }
    }
    if rows == 0 || columns == 0 { return LinearAssignment(rows: [], columns: []) }

    // Work on a matrix with no more rows than columns, minimising.
    let transposed = columns < rows
    let nr = transposed ? columns : rows
    let nc = transposed ? rows : columns
    var cost = [Double](repeating: 0, count: nr * nc)
    for r in 0..<rows {
        for c in 0..<columns {
            let v = maximize ? -values[r * columns + c] : values[r * columns + c]
            if transposed { cost[c * nc + r] = v } else { cost[r * nc + c] = v }
        }
    }

    let solver = ShortestAugmentingPath(cost: cost, rows: nr, columns: nc)
    guard let columnOfRow = solver.solve() else { throw LinearAssignmentError.infeasible }

    if !transposed {
        return LinearAssignment(rows: Array(0..<nr), columns: columnOfRow)
    }
    // Transposed: row r of the work matrix is original column r; report by original row.
    let order = (0..<nr).sorted { columnOfRow[$0] < columnOfRow[$1] }
    return LinearAssignment(rows: order.map { columnOfRow[$0] }, columns: order)
}

/// `linearSumAssignment` of a [rows, columns] tensor.
public func linearSumAssignment(_ cost: Tensor, maximize: Bool = false) throws -> LinearAssignment {
    guard cost.rank == 2 else { throw DETRInputError.badShape(what: "linearSumAssignment cost", expected: "[rows, columns]", got: cost.shape) }
    return try linearSumAssignment(cost.scalars.map { Double($0) }, rows: cost.shape[0], columns: cost.shape[1], maximize: maximize)
}

/// The state of the shortest augmenting path solver for rows <= columns. The arrays live in
/// raw buffers so that the inner scan runs without bounds checks (about 2x on 300 x 300).
private final class ShortestAugmentingPath {
    let rows: Int
    let columns: Int
    /// Row-major costs, rows x columns.
    let cost: UnsafeMutableBufferPointer<Double>
    /// Dual variables of rows and columns.
    let u: UnsafeMutableBufferPointer<Double>
    let v: UnsafeMutableBufferPointer<Double>
    /// Current matching (-1: free).
    let columnOfRow: UnsafeMutableBufferPointer<Int>
    let rowOfColumn: UnsafeMutableBufferPointer<Int>
    /// Per search: predecessor row of each column on the shortest path tree, the path
    /// lengths, which rows / columns have been scanned, and the columns not yet scanned.
    let predecessor: UnsafeMutableBufferPointer<Int>
    let distance: UnsafeMutableBufferPointer<Double>
    let rowScanned: UnsafeMutableBufferPointer<Bool>
    let columnScanned: UnsafeMutableBufferPointer<Bool>
    let unscanned: UnsafeMutableBufferPointer<Int>

    init(cost values: [Double], rows: Int, columns: Int) {
        self.rows = rows
        self.columns = columns
        cost = .allocate(capacity: rows * columns)
        _ = cost.initialize(from: values)
        u = .allocate(capacity: rows)
        u.initialize(repeating: 0)
        v = .allocate(capacity: columns)
        v.initialize(repeating: 0)
        columnOfRow = .allocate(capacity: rows)
        columnOfRow.initialize(repeating: -1)
        rowOfColumn = .allocate(capacity: columns)
        rowOfColumn.initialize(repeating: -1)
        predecessor = .allocate(capacity: columns)
        predecessor.initialize(repeating: -1)
        distance = .allocate(capacity: columns)
        distance.initialize(repeating: .infinity)
        rowScanned = .allocate(capacity: rows)
        rowScanned.initialize(repeating: false)
        columnScanned = .allocate(capacity: columns)
        columnScanned.initialize(repeating: false)
        unscanned = .allocate(capacity: columns)
        unscanned.initialize(repeating: 0)
    }

    deinit {
        for p in [cost, u, v, distance] { p.deallocate() }
        for p in [columnOfRow, rowOfColumn, predecessor, unscanned] { p.deallocate() }
        for p in [rowScanned, columnScanned] { p.deallocate() }
    }

    /// The column of each row in an optimal assignment, or nil when infeasible.
    func solve() -> [Int]? {
        for row in 0..<rows {
            guard let (sink, shortest) = shortestPath(from: row) else { return nil }
            updateDuals(start: row, shortest: shortest)
            augment(start: row, sink: sink)
        }
        return Array(columnOfRow)
    }

    /// Dijkstra over reduced costs from the free row `start` to the nearest free column.
    /// Returns that column and the length of the path to it.
    func shortestPath(from start: Int) -> (sink: Int, length: Double)? {
        let c = cost.baseAddress!, d = distance.baseAddress!, pred = predecessor.baseAddress!
        let free = rowOfColumn.baseAddress!, todo = unscanned.baseAddress!, vv = v.baseAddress!
        for j in 0..<columns {
            d[j] = .infinity
            columnScanned[j] = false
            // Reverse order: scanning the last entries first reproduces scipy's tie-breaks.
            todo[j] = columns - 1 - j
        }
        for i in 0..<rows { rowScanned[i] = false }
        var remaining = columns
        var reached = 0.0
        var row = start
        while true {
            rowScanned[row] = true
            var lowest = Double.infinity
            var pick = -1
            let rowCost = c + row * columns
            let ur = u[row]
            for k in 0..<remaining {
                let j = todo[k]
                // Same order of operations as scipy, for the same rounding.
                let reduced = reached + rowCost[j] - ur - vv[j]
                if reduced < d[j] {
                    pred[j] = row
                    d[j] = reduced
                }
                // Among equally short columns prefer a free one: it ends the search.
                if d[j] < lowest || (d[j] == lowest && free[j] == -1) {
                    lowest = d[j]
                    pick = k
                }
            }
            reached = lowest
            if reached == .infinity || pick < 0 { return nil }
            let j = todo[pick]
            columnScanned[j] = true
            remaining -= 1
            todo[pick] = todo[remaining]
            if free[j] == -1 { return (j, reached) }
            row = free[j]
        }
    }

    /// Keeps the reduced costs of the matching at zero and all others non-negative.
    func updateDuals(start: Int, shortest: Double) {
        u[start] += shortest
        for i in 0..<rows where rowScanned[i] && i != start {
            u[i] += shortest - distance[columnOfRow[i]]
        }
        for j in 0..<columns where columnScanned[j] {
            v[j] -= shortest - distance[j]
        }
    }

    /// Flips the matching along the path from `sink` back to `start`.
    func augment(start: Int, sink: Int) {
        var j = sink
        while true {
            let i = predecessor[j]
            rowOfColumn[j] = i
            let previous = columnOfRow[i]
            columnOfRow[i] = j
            if i == start { break }
            j = previous
        }
    }
}
