import CKernels
import Foundation

/// Splits `shape` around `axis` into (outer, n, inner).
@inline(__always)
func splitAxis(_ shape: [Int], _ axis: Int) -> (outer: Int, n: Int, inner: Int) {
    let outer = shape[..<axis].reduce(1, *)
    let inner = shape[(axis + 1)...].reduce(1, *)
    return (outer, shape[axis], inner)
}

extension Tensor {
    /// Sum of all elements (a scalar of shape []). Accumulates in Double.
    public func sum() -> Tensor {
        let a = self
        let p = a.data
        var total = 0.0
        var i = 0
        // Blocks of Float partial sums keep it vectorisable; Double across blocks keeps accuracy.
        while i < a.count {
            let end = Swift.min(a.count, i + 4096)
            var s: Float = 0
            for j in i..<end { s += p[j] }
            total += Double(s)
            i = end
        }
        let out = Tensor(scalar: Float(total))
        return Tensor.record(out, "sum", [a]) { g in [Tensor.full(a.shape, g.item)] }
    }

    public func mean() -> Tensor {
        sum() / Float(Swift.max(count, 1))
    }

    /// Sum over one axis.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor {
        let a = self
        let ax = normalizedAxis(axis)
        let (outer, n, inner) = splitAxis(shape, ax)
        var outShape = shape
        outShape[ax] = 1
        let out = Tensor.empty(outShape)
        let pa = a.data, po = out.data
        Threads.parallelFor(outer, costPerItem: n * inner) { r in
            for o in r {
                let dst = po + o * inner
                let src = pa + o * n * inner
                if inner == 1 {
                    var s: Float = 0
                    for k in 0..<n { s += src[k] }
                    dst[0] = s
                } else {
                    for j in 0..<inner { dst[j] = src[j] }
                    for k in 1..<Swift.max(n, 1) {
                        let row = src + k * inner
                        for j in 0..<inner { dst[j] += row[j] }
                    }
                    if n == 0 { for j in 0..<inner { dst[j] = 0 } }
                }
            }
        }
        if !keepDims { outShape.remove(at: ax) }
        let result = out.reshape(outShape)
        let keepShape = out.shape
        return Tensor.record(result.detach(), "sum_axis", [a]) { g in [g.reshape(keepShape).expand(a.shape)] }
    }

    /// Sum over several axes.
    public func sum(axes: [Int], keepDims: Bool = false) -> Tensor {
        let sorted = Set(axes.map { normalizedAxis($0) }).sorted(by: >)
        var t = self
        for ax in sorted { t = t.sum(axis: ax, keepDims: keepDims) }
        return t
    }

    public func mean(axis: Int, keepDims: Bool = false) -> Tensor {
        sum(axis: axis, keepDims: keepDims) / Float(Swift.max(size(axis), 1))
    }

    public func mean(axes: [Int], keepDims: Bool = false) -> Tensor {
        let n = Set(axes.map { normalizedAxis($0) }).map { shape[$0] }.reduce(1, *)
        return sum(axes: axes, keepDims: keepDims) / Float(Swift.max(n, 1))
    }

    /// Maximum over an axis; the gradient flows to the first maximal element.
    public func max(axis: Int, keepDims: Bool = false) -> Tensor {
        extremum(axis: axis, keepDims: keepDims, name: "max") { $0 > $1 }
    }

    /// Minimum over an axis; the gradient flows to the first minimal element.
    public func min(axis: Int, keepDims: Bool = false) -> Tensor {
        extremum(axis: axis, keepDims: keepDims, name: "min") { $0 < $1 }
    }

    /// Index of the maximum over an axis (first on ties), as Float values (no gradient).
    public func argmax(axis: Int, keepDims: Bool = false) -> Tensor {
        let (_, idx) = extremumIndices(axis: axis) { $0 > $1 }
        var s = shape
        let ax = normalizedAxis(axis)
        if keepDims { s[ax] = 1 } else { s.remove(at: ax) }
        return Tensor(idx.map { Float($0) }, shape: s)
    }

    func extremumIndices(axis: Int, _ better: (Float, Float) -> Bool) -> ([Float], [Int]) {
        let ax = normalizedAxis(axis)
        let (outer, n, inner) = splitAxis(shape, ax)
        precondition(n > 0, "max/min over an empty axis")
        var values = [Float](repeating: 0, count: outer * inner)
        var indices = [Int](repeating: 0, count: outer * inner)
        let p = data
        for o in 0..<outer {
            for j in 0..<inner {
                var best = p[o * n * inner + j]
                var bi = 0
                if best.isNaN { values[o * inner + j] = best; indices[o * inner + j] = 0; continue }
                for k in 1..<n {
                    let v = p[(o * n + k) * inner + j]
                    if v.isNaN { best = v; bi = k; break }  // NaN propagates, as in PyTorch
                    if better(v, best) { best = v; bi = k }
                }
                values[o * inner + j] = best
                indices[o * inner + j] = bi
            }
        }
        return (values, indices)
    }

    func extremum(axis: Int, keepDims: Bool, name: String, _ better: (Float, Float) -> Bool) -> Tensor {
        let a = self
        let ax = normalizedAxis(axis)
        let (values, indices) = extremumIndices(axis: ax, better)
        var keepShape = shape
        keepShape[ax] = 1
        var outShape = keepShape
        if !keepDims { outShape.remove(at: ax) }
        let out = Tensor(values, shape: outShape)
        let (outer, n, inner) = splitAxis(shape, ax)
        return Tensor.record(out, name, [a]) { g in
            let ga = Tensor.zeros(a.shape)
            let pg = g.data, pd = ga.data
            for o in 0..<outer {
                for j in 0..<inner {
                    pd[(o * n + indices[o * inner + j]) * inner + j] = pg[o * inner + j]
                }
            }
            return [ga]
        }
    }

    /// The `k` largest (or smallest) values along the last axis, sorted, with their indices
    /// (as Float). No gradient: used for post-processing.
    public func topk(_ k: Int, largest: Bool = true) -> (values: Tensor, indices: Tensor) {
        let n = shape.last ?? 1
        precondition(k >= 0 && k <= n, "topk: k = \(k) for a last axis of \(n)")
        let rows = count / Swift.max(n, 1)
        var outShape = shape
        if outShape.isEmpty { outShape = [1] }
        outShape[outShape.count - 1] = k
        let values = Tensor.empty(outShape), indices = Tensor.empty(outShape)
        let p = data
        for r in 0..<rows {
            let row = p + r * n
            var idx = Array(0..<n)
            // Stable: ties keep the lower index first.
            idx.sort { i, j in
                let a = row[i], b = row[j]
                if a == b { return i < j }
                return largest ? a > b : a < b
            }
            for c in 0..<k {
                values.data[r * k + c] = row[idx[c]]
                indices.data[r * k + c] = Float(idx[c])
            }
        }
        return (values, indices)
    }

    /// Inclusive cumulative sum along an axis (no gradient).
    public func cumsum(axis: Int) -> Tensor {
        let ax = normalizedAxis(axis)
        let (outer, n, inner) = splitAxis(shape, ax)
        let out = Tensor.empty(shape)
        let pa = data, po = out.data
        for o in 0..<outer {
            for j in 0..<inner {
                var s: Float = 0
                for k in 0..<n {
                    let i = (o * n + k) * inner + j
                    s += pa[i]
                    po[i] = s
                }
            }
        }
        return out
    }
}

// MARK: - Softmax

extension Tensor {
    /// Numerically stable softmax along an axis (default: the last).
    public func softmax(axis: Int = -1) -> Tensor {
        let a = self
        let ax = normalizedAxis(axis)
        let out = softmaxKernel(a, axis: ax, log: false)
        return Tensor.record(out, "softmax", [a]) { g in
            // dx = y * (g - sum(g * y))
            if let dx = softmaxBackwardRows(out, g, axis: ax, log: false) { return [dx] }
            let gy = g * out
            return [gy - out * gy.sum(axis: ax, keepDims: true)]
        }
    }

    /// Numerically stable log-softmax along an axis (default: the last).
    public func logSoftmax(axis: Int = -1) -> Tensor {
        let a = self
        let ax = normalizedAxis(axis)
        let out = softmaxKernel(a, axis: ax, log: true)
        return Tensor.record(out, "log_softmax", [a]) { g in
            // dx = g - softmax * sum(g)
            if let dx = softmaxBackwardRows(out, g, axis: ax, log: true) { return [dx] }
            let sm = out.detach().exp()
            return [g - sm * g.sum(axis: ax, keepDims: true)]
        }
    }
}

/// The fused backward of (log-)softmax over the last axis (contiguous rows); nil otherwise.
func softmaxBackwardRows(_ y: Tensor, _ g: Tensor, axis: Int, log: Bool) -> Tensor? {
    guard axis == y.rank - 1, g.shape == y.shape else { return nil }
    let n = y.shape.last ?? 1
    let rows = y.count / Swift.max(n, 1)
    let dx = Tensor.empty(y.shape)
    let py = y.data, pg = g.data, pd = dx.data
    Threads.parallelFor(rows, costPerItem: n * 3) { r in
        detr_softmax_backward_rows(py + r.lowerBound * n, pg + r.lowerBound * n, pd + r.lowerBound * n, r.count, n, log ? 1 : 0)
    }
    return dx
}

/// Fused max-subtract / exp / normalise over one axis.
func softmaxKernel(_ a: Tensor, axis: Int, log: Bool) -> Tensor {
    let (outer, n, inner) = splitAxis(a.shape, axis)
    let out = Tensor.empty(a.shape)
    let pa = a.data, po = out.data
    if inner == 1 {
        // Contiguous rows: the vectorised C kernel, rows split across threads.
        Threads.parallelFor(outer, costPerItem: n * 4) { r in
            detr_softmax_rows(pa + r.lowerBound * n, po + r.lowerBound * n, r.count, n, log ? 1 : 0)
        }
        return out
    }
    Threads.parallelFor(outer * inner, costPerItem: n * 8) { r in
        for idx in r {
            let o = idx / inner, j = idx % inner
            let base = o * n * inner + j
            var m = -Float.infinity
            for k in 0..<n { m = Swift.max(m, pa[base + k * inner]) }
            if m == -Float.infinity { m = 0 }
            var s: Float = 0
            if log {
                for k in 0..<n { s += Foundation.exp(pa[base + k * inner] - m) }
                let ls = Foundation.log(s)
                for k in 0..<n { po[base + k * inner] = (pa[base + k * inner] - m) - ls }
            } else {
                for k in 0..<n {
                    let e = Foundation.exp(pa[base + k * inner] - m)
                    po[base + k * inner] = e
                    s += e
                }
                let inv = 1 / s
                for k in 0..<n { po[base + k * inner] *= inv }
            }
        }
    }
    return out
}
