import Base
import Foundation
import Tensor
import XCTest

/// A sum over `parties` threads, each calling it once per round (MPI's allreduce in one
/// process): the stand-in for the processes of a data-parallel run.
final class ThreadAllreduce: @unchecked Sendable {
    let parties: Int
    let condition = NSCondition()
    var round = 0, arrived = 0
    var accumulator: [Double] = [], result: [Double] = []

    init(parties: Int) { self.parties = parties }

    func sum(_ values: inout [Double]) {
        condition.lock()
        defer { condition.unlock() }
        let mine = round
        if arrived == 0 { accumulator = values } else { for i in values.indices { accumulator[i] += values[i] } }
        arrived += 1
        if arrived == parties {
            result = accumulator
            arrived = 0
            round += 1
            condition.broadcast()
        } else {
            while round == mine { condition.wait() }
        }
        values = result
    }

    /// Runs `body(part)` for every part on its own thread and waits for all.
    func run(_ body: @escaping @Sendable (Int) -> Void) {
        let group = DispatchGroup()
        for part in 0..<parties {
            group.enter()
            Thread {
                body(part)
                group.leave()
            }.start()
        }
        group.wait()
    }
}

/// The batch-coupled operations of data-parallel training: synchronised batch norm (two
/// "processes" on threads, each with half of the batch, against the whole batch on one) and
/// dropout masks drawn per sample (the same whatever the split).
final class DataParallelTests: XCTestCase {
    override func tearDown() {
        DataParallel.sum = nil
        super.tearDown()
    }

    static func assertClose(_ a: [Float], _ b: [Float], _ what: String, tolerance: Float = 1e-5,
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        let scale = max(a.map { abs($0) }.max() ?? 0, 1)
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, tolerance * scale, what, file: file, line: line)
    }

    func testSyncBatchNormOnTwoHalves_EqualsBatchNormOfTheWholeBatch() {
        var rng = SplitMix64(seed: 5)
        let x = Tensor.uniform([6, 3, 4, 5], low: -2, high: 3, using: &rng)
        let upstream = Tensor.uniform([6, 3, 4, 5], low: -1, high: 1, using: &rng)
        let weight = Tensor.uniform([3], low: 0.5, high: 1.5, using: &rng), bias = Tensor.uniform([3], low: -1, high: 1, using: &rng)

        // One process, the whole batch.
        func leaf(_ t: Tensor) -> Tensor { Tensor(t.scalars, shape: t.shape, requiresGrad: true) }
        let xw = leaf(x), ww = leaf(weight), bw = leaf(bias)
        let meanW = Tensor.zeros([3]), varW = Tensor.ones([3])
        let yw = xw.batchNorm(weight: ww, bias: bw, runningMean: meanW, runningVar: varW, training: true)
        (yw * upstream).sum().backward()

        // Two processes with 2 and 4 samples (uneven shares), statistics summed over both.
        let allreduce = ThreadAllreduce(parties: 2)
        DataParallel.sum = { allreduce.sum(&$0) }
        let ranges = [0..<2, 2..<6]
        let xs = ranges.map { leaf(x.slice(axis: 0, $0)) }, ws = ranges.map { _ in leaf(weight) }, bs = ranges.map { _ in leaf(bias) }
        let means = ranges.map { _ in Tensor.zeros([3]) }, vars = ranges.map { _ in Tensor.ones([3]) }
        nonisolated(unsafe) var ys: [Tensor?] = [nil, nil]
        allreduce.run { k in
            let y = xs[k].batchNorm(weight: ws[k], bias: bs[k], runningMean: means[k], runningVar: vars[k], training: true)
            (y * upstream.slice(axis: 0, ranges[k])).sum().backward()
            ys[k] = y
        }
        DataParallel.sum = nil

        Self.assertClose(Tensor.cat(ys.map { $0! }, axis: 0).scalars, yw.scalars, "output")
        Self.assertClose(Tensor.cat(xs.map { $0.grad! }, axis: 0).scalars, xw.grad!.scalars, "input gradient")
        Self.assertClose(zip(ws[0].grad!.scalars, ws[1].grad!.scalars).map(+), ww.grad!.scalars, "summed weight gradient")
        Self.assertClose(zip(bs[0].grad!.scalars, bs[1].grad!.scalars).map(+), bw.grad!.scalars, "summed bias gradient")
        for k in 0..<2 {
            Self.assertClose(means[k].scalars, meanW.scalars, "running mean of process \(k)")
            Self.assertClose(vars[k].scalars, varW.scalars, "running variance of process \(k)")
        }
        // The halves alone (no synchronisation) would normalise differently.
        let alone = x.slice(axis: 0, 0..<2).batchNorm(weight: weight, bias: bias, runningMean: Tensor.zeros([3]),
                                                      runningVar: Tensor.ones([3]), training: true)
        XCTAssertGreaterThan(zip(alone.scalars, yw.slice(axis: 0, 0..<2).scalars).map { abs($0 - $1) }.max()!, 1e-2)
    }

    func testPerSampleDropout_MasksDoNotDependOnTheSplit() {
        // Sequences [L, N, C]: samples on dimension 1.
        let x = Tensor.ones([3, 8, 5])
        var rng = SplitMix64(seed: 9)
        let whole = x.dropout(0.3, training: true, sampleAxis: 1, sampleOffset: 0, using: &rng)
        var after = rng
        let next = after.next()
        var parts: [Tensor] = []
        for range in [0..<3, 3..<8] {
            var r = SplitMix64(seed: 9)
            parts.append(x.slice(axis: 1, range).dropout(0.3, training: true, sampleAxis: 1, sampleOffset: range.lowerBound, using: &r))
            XCTAssertEqual(r.next(), next, "one draw of the generator per call, whatever the split")
        }
        XCTAssertEqual(Tensor.cat(parts, axis: 1).scalars, whole.scalars)
        let dropped = whole.scalars.filter { $0 == 0 }.count
        XCTAssertTrue((15...57).contains(dropped), "\(dropped) of 120 dropped at p = 0.3")
        XCTAssertTrue(whole.scalars.allSatisfy { $0 == 0 || abs($0 - 1 / 0.7) < 1e-6 })

        // Attention probabilities [N*H, L, S] with 2 query groups folded group-major into N
        // (rows (group * B + sample) * H + head), B = 4 samples, H = 3 heads.
        let b = 4, h = 3, groups = 2
        let attn = Tensor.ones([groups * b * h, 2, 2])
        var g1 = SplitMix64(seed: 4)
        let all = attn.dropout(0.5, training: true, sampleAxis: 0, groups: groups, perSample: h, sampleOffset: 0, using: &g1)
        // Samples 2 and 3 alone, as a process holding the second half.
        var rows: [Int] = []
        for g in 0..<groups {
            let first = (g * b + 2) * h
            rows += Array(first..<(first + 2 * h))
        }
        let half = attn.indexSelect(axis: 0, Array(0..<(groups * 2 * h)))
        var g2 = SplitMix64(seed: 4)
        let second = half.dropout(0.5, training: true, sampleAxis: 0, groups: groups, perSample: h, sampleOffset: 2, using: &g2)
        XCTAssertEqual(second.scalars, all.indexSelect(axis: 0, rows).scalars)
    }
}
