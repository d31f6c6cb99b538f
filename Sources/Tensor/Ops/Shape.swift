/// Copies a strided view (`offset`, per-dimension `strides` over `src`) into a new contiguous
/// tensor of `shape`. Strides of 0 broadcast. The one kernel behind permute, slice and expand.
func stridedCopy(_ src: UnsafeMutablePointer<Float>, offset: Int, strides: [Int], shape: [Int]) -> Tensor {
    let out = Tensor.empty(shape)
    let rank = shape.count
    if out.count == 0 { return out }
    if rank == 0 {
        out.data[0] = src[offset]
        return out
    }
    let inner = shape[rank - 1]
    let si = strides[rank - 1]
    let rows = out.count / inner
    let po = out.data
    Threads.parallelFor(rows, costPerItem: inner) { r in
        for row in r {
            var rem = row, off = offset
            for d in stride(from: rank - 2, through: 0, by: -1) {
                off += (rem % shape[d]) * strides[d]
                rem /= shape[d]
            }
            let o = po + row * inner
            if si == 1 {
                o.update(from: src + off, count: inner)
            } else if si == 0 {
                o.update(repeating: src[off], count: inner)
            } else {
                for j in 0..<inner { o[j] = src[off + j * si] }
            }
        }
    }
    return out
}

extension Tensor {
    /// The same storage with another shape (a view; one dimension may be -1).
    public func reshape(_ newShape: [Int]) -> Tensor {
        var s = newShape
        if let i = s.firstIndex(of: -1) {
            let known = s.enumerated().filter { $0.offset != i }.map { $0.element }.reduce(1, *)
            precondition(known > 0 && count % known == 0, "reshape: cannot infer -1 in \(newShape) for \(shape)")
            s[i] = count / known
        }
        precondition(s.reduce(1, *) == count, "reshape: \(shape) (\(count) elements) to \(newShape)")
        if s == shape { return self }
        let a = self
        let out = Tensor(shape: s, storage: storage)
        return Tensor.record(out, "reshape", [a]) { g in [g.reshape(a.shape)] }
    }

    /// Flattens dimensions `start...end` into one.
    public func flatten(from start: Int = 0, to end: Int = -1) -> Tensor {
        if rank == 0 { return reshape([1]) }
        let s = normalizedAxis(start), e = normalizedAxis(end)
        let merged = shape[s...e].reduce(1, *)
        return reshape(Array(shape[..<s]) + [merged] + Array(shape[(e + 1)...]))
    }

    /// Inserts a dimension of size 1.
    public func unsqueeze(_ axis: Int) -> Tensor {
        let a = axis < 0 ? axis + rank + 1 : axis
        var s = shape
        s.insert(1, at: a)
        return reshape(s)
    }

    /// Removes a dimension of size 1.
    public func squeeze(_ axis: Int) -> Tensor {
        let a = normalizedAxis(axis)
        precondition(shape[a] == 1, "squeeze: dimension \(axis) of \(shape) is not 1")
        var s = shape
        s.remove(at: a)
        return reshape(s)
    }

    /// Reorders the dimensions (a copy).
    public func permute(_ order: [Int]) -> Tensor {
        precondition(order.count == rank && Set(order) == Set(0..<rank), "permute: \(order) for rank \(rank)")
        if order == Array(0..<rank) { return self }
        let a = self
        let st = strides
        let out = stridedCopy(data, offset: 0, strides: order.map { st[$0] }, shape: order.map { shape[$0] })
        var inverse = [Int](repeating: 0, count: rank)
        for (i, o) in order.enumerated() { inverse[o] = i }
        return Tensor.record(out, "permute", [a]) { g in [g.permute(inverse)] }
    }

    /// Swaps two dimensions (a copy).
    public func transpose(_ d0: Int, _ d1: Int) -> Tensor {
        var order = Array(0..<rank)
        order.swapAt(normalizedAxis(d0), normalizedAxis(d1))
        return permute(order)
    }

    /// Broadcasts to `target` (numpy rules; a copy).
    public func expand(_ target: [Int]) -> Tensor {
        if target == shape { return self }
        guard broadcastShape(shape, target) == target else {
            preconditionFailure("expand: \(shape) cannot be broadcast to \(target)")
        }
        let a = self
        let out = stridedCopy(data, offset: 0, strides: broadcastStrides(shape, to: target), shape: target)
        return Tensor.record(out, "expand", [a]) { g in [g.unbroadcast(to: a.shape)] }
    }

    /// Tiles the tensor `times[i]` times along each dimension (torch.Tensor.repeat).
    public func repeated(_ times: [Int]) -> Tensor {
        precondition(times.count >= rank, "repeat: \(times.count) repeats for rank \(rank)")
        var t = self
        while t.rank < times.count { t = t.unsqueeze(0) }
        // Interleave: [r0, s0, r1, s1, ...] expanded, then merged.
        var inter: [Int] = []
        var target: [Int] = []
        for (r, s) in zip(times, t.shape) {
            inter += [1, s]
            target += [r, s]
        }
        let out = t.reshape(inter).expand(target)
        return out.reshape(zip(times, t.shape).map { $0 * $1 })
    }

    /// Elements `range` along `axis`, every `step`-th (a copy).
    public func slice(axis: Int, _ range: Range<Int>, step: Int = 1) -> Tensor {
        let ax = normalizedAxis(axis)
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[ax] && step >= 1,
                     "slice: \(range) step \(step) out of bounds for dimension \(ax) of \(shape)")
        let a = self
        var outShape = shape
        outShape[ax] = (range.count + step - 1) / step
        var st = strides
        let offset = range.lowerBound * st[ax]
        st[ax] *= step
        let out = stridedCopy(data, offset: offset, strides: st, shape: outShape)
        return Tensor.record(out, "slice", [a]) { g in
            let ga = Tensor.zeros(a.shape)
            // Scatter g back into the sliced positions.
            let (outer, _, inner) = splitAxis(a.shape, ax)
            let n = a.shape[ax], m = outShape[ax]
            let pg = g.data, pd = ga.data
            for o in 0..<outer {
                for k in 0..<m {
                    let src = pg + (o * m + k) * inner
                    let dst = pd + (o * n + range.lowerBound + k * step) * inner
                    dst.update(from: src, count: inner)
                }
            }
            return [ga]
        }
    }

    /// Splits along an axis into pieces of the given sizes.
    public func split(_ sizes: [Int], axis: Int) -> [Tensor] {
        let ax = normalizedAxis(axis)
        precondition(sizes.reduce(0, +) == shape[ax], "split: sizes \(sizes) for dimension of \(shape[ax])")
        var start = 0
        return sizes.map { n in
            defer { start += n }
            return slice(axis: ax, start..<(start + n))
        }
    }

    /// Splits into `chunks` pieces along an axis (the last may be smaller, as torch.chunk).
    public func chunk(_ chunks: Int, axis: Int) -> [Tensor] {
        let n = size(axis)
        let each = (n + chunks - 1) / chunks
        var sizes: [Int] = []
        var left = n
        while left > 0 {
            sizes.append(Swift.min(each, left))
            left -= each
        }
        return split(sizes, axis: axis)
    }

    /// Concatenates along an axis.
    public static func cat(_ tensors: [Tensor], axis: Int) -> Tensor {
        precondition(!tensors.isEmpty, "cat: no tensors")
        let first = tensors[0]
        let ax = first.normalizedAxis(axis)
        for t in tensors {
            precondition(t.rank == first.rank && t.shape.enumerated().allSatisfy { $0.offset == ax || $0.element == first.shape[$0.offset] },
                         "cat: shape \(t.shape) does not match \(first.shape) outside axis \(ax)")
        }
        var outShape = first.shape
        outShape[ax] = tensors.map { $0.shape[ax] }.reduce(0, +)
        let out = Tensor.empty(outShape)
        let (outer, total, inner) = splitAxis(outShape, ax)
        var start = 0
        for t in tensors {
            let n = t.shape[ax]
            let src = t.data, dst = out.data
            for o in 0..<outer {
                (dst + (o * total + start) * inner).update(from: src + o * n * inner, count: n * inner)
            }
            start += n
        }
        let sizes = tensors.map { $0.shape[ax] }
        return record(out, "cat", tensors) { g in g.split(sizes, axis: ax) }
    }

    /// Stacks equal-shaped tensors along a new axis.
    public static func stack(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
        precondition(!tensors.isEmpty, "stack: no tensors")
        let ax = axis < 0 ? axis + tensors[0].rank + 1 : axis
        return cat(tensors.map { $0.unsqueeze(ax) }, axis: ax)
    }

    /// Pads with a constant: `padding[i] = (before, after)` for the last `padding.count`
    /// dimensions, in order from the first of those to the last.
    public func pad(_ padding: [(Int, Int)], value: Float = 0) -> Tensor {
        precondition(padding.count <= rank, "pad: \(padding.count) pairs for rank \(rank)")
        let a = self
        let first = rank - padding.count
        var outShape = shape
        for (i, p) in padding.enumerated() {
            precondition(p.0 >= 0 && p.1 >= 0, "pad: negative padding")
            outShape[first + i] += p.0 + p.1
        }
        let out = Tensor.full(outShape, value)
        // Copy row by row of the last dimension.
        let inner = shape.last ?? 1
        let rows = count / Swift.max(inner, 1)
        let outStrides = Tensor.contiguousStrides(outShape)
        var before = [Int](repeating: 0, count: rank)
        for (i, p) in padding.enumerated() { before[first + i] = p.0 }
        let pa = data, po = out.data
        if rank > 0 {
            for row in 0..<rows {
                var rem = row
                var off = before[rank - 1]
                for d in stride(from: rank - 2, through: 0, by: -1) {
                    off += (rem % shape[d] + before[d]) * outStrides[d]
                    rem /= shape[d]
                }
                (po + off).update(from: pa + row * inner, count: inner)
            }
        }
        return Tensor.record(out, "pad", [a]) { g in
            var gg = g
            for (i, p) in padding.enumerated() where p.0 > 0 || p.1 > 0 {
                gg = gg.slice(axis: first + i, p.0..<(p.0 + a.shape[first + i]))
            }
            return [gg]
        }
    }
}
