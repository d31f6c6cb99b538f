import Base

extension Tensor {
    /// `out[..., i, ...] = self[..., index[..., i, ...], ...]` along `axis` (torch.gather): the
    /// index has the tensor's rank and its shape is the output's.
    public func gather(axis: Int, index: IntTensor) -> Tensor {
        let a = self
        let ax = normalizedAxis(axis)
        precondition(index.shape.count == rank, "gather: index rank \(index.shape.count) for tensor rank \(rank)")
        for d in 0..<rank where d != ax {
            precondition(index.shape[d] <= shape[d], "gather: index shape \(index.shape) exceeds \(shape) on dimension \(d)")
        }
        let out = Tensor.empty(index.shape)
        let offsets = indexedOffsets(axis: ax, index: index, op: "gather")
        for i in 0..<offsets.count { out.data[i] = data[offsets[i]] }
        return Tensor.record(out, "gather", [a]) { g in
            let ga = Tensor.zeros(a.shape)
            for i in 0..<offsets.count { ga.data[offsets[i]] += g.data[i] }
            return [ga]
        }
    }

    /// Selects entries `indices` along `axis` (torch.index_select).
    public func indexSelect(axis: Int, _ indices: [Int]) -> Tensor {
        let a = self
        let ax = normalizedAxis(axis)
        let (outer, n, inner) = splitAxis(shape, ax)
        for k in indices { precondition(k >= 0 && k < n, "indexSelect: index \(k) out of range for dimension of \(n)") }
        var outShape = shape
        outShape[ax] = indices.count
        let out = Tensor.empty(outShape)
        let m = indices.count
        for o in 0..<outer {
            for (j, k) in indices.enumerated() {
                (out.data + (o * m + j) * inner).update(from: data + (o * n + k) * inner, count: inner)
            }
        }
        return Tensor.record(out, "index_select", [a]) { g in
            let ga = Tensor.zeros(a.shape)
            for o in 0..<outer {
                for (j, k) in indices.enumerated() {
                    let src = g.data + (o * m + j) * inner, dst = ga.data + (o * n + k) * inner
                    for c in 0..<inner { dst[c] += src[c] }
                }
            }
            return [ga]
        }
    }

    /// A copy of `self` with `src` added at `index` along `axis` (torch.scatter_add).
    public func scatterAdd(axis: Int, index: IntTensor, source src: Tensor) -> Tensor {
        let a = self
        let ax = normalizedAxis(axis)
        precondition(index.shape == src.shape, "scatterAdd: index shape \(index.shape) vs source \(src.shape)")
        let out = a.clone()
        let offsets = indexedOffsets(axis: ax, index: index, op: "scatterAdd")
        for i in 0..<offsets.count { out.data[offsets[i]] += src.data[i] }
        return Tensor.record(out, "scatter_add", [a, src]) { g in
            let gs = Tensor.empty(src.shape)
            for i in 0..<offsets.count { gs.data[i] = g.data[offsets[i]] }
            return [g, gs]
        }
    }

    /// `value` where `mask` (broadcast to this shape) is true.
    public func maskedFill(_ mask: BoolTensor, _ value: Float) -> Tensor {
        let a = self
        let m = mask.asFloat.expand(shape)
        let out = binaryKernel(a, m, "masked_fill") { $1 != 0 ? value : $0 }
        return Tensor.record(out, "masked_fill", [a]) { g in [binaryKernel(g, m, "masked_fill_backward") { $1 != 0 ? 0 : $0 }] }
    }

    /// `a` where `condition`, else `b` (all broadcast together).
    public static func `where`(_ condition: BoolTensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        guard let s1 = broadcastShape(a.shape, b.shape), let shape = broadcastShape(s1, condition.shape) else {
            preconditionFailure("where: shapes \(condition.shape), \(a.shape), \(b.shape) do not broadcast")
        }
        let c = condition.asFloat.expand(shape)
        let ae = a.expand(shape), be = b.expand(shape)
        let out = Tensor.empty(shape)
        for i in 0..<out.count { out.data[i] = c.data[i] != 0 ? ae.data[i] : be.data[i] }
        return record(out, "where", [ae, be]) { g in
            [binaryKernel(g, c, "where") { $1 != 0 ? $0 : 0 }, binaryKernel(g, c, "where") { $1 != 0 ? 0 : $0 }]
        }
    }

    /// Rows of an embedding table [num, dim] for `indices` of any shape: [..., dim].
    public static func embedding(_ weight: Tensor, _ indices: IntTensor) -> Tensor {
        precondition(weight.rank == 2, "embedding: weight must be [num, dim], got \(weight.shape)")
        return weight.indexSelect(axis: 0, indices.values).reshape(indices.shape + [weight.shape[1]])
    }

    /// Dropout (in training: each element zeroed with probability `p`, the rest scaled by
    /// 1/(1-p); the identity otherwise) whose mask is drawn sample by sample: the indices on `axis` are
    /// `(group * B + sample) * perSample + j` (B local samples; `groups` > 1 for Group DETR's
    /// query groups folded into the batch), and the elements of local sample `s` take their
    /// mask from their own generator, seeded by one draw of `rng` and the sample's global index
    /// `s + sampleOffset`, in row-major order of the sample's elements. The masks therefore do
    /// not depend on which other samples share the batch (each process of a data-parallel run
    /// holds a part of it, `sampleOffset` being the global index of its first sample). `rng`
    /// advances by one draw.
    public func dropout(_ p: Float, training: Bool, sampleAxis axis: Int, groups: Int = 1, perSample: Int = 1,
                        sampleOffset: Int, using rng: inout SplitMix64) -> Tensor {
        if !training || p == 0 { return self }
        precondition(p >= 0 && p < 1, "dropout: p = \(p) must be in [0, 1)")
        precondition(axis >= 0 && axis < rank && groups > 0 && perSample > 0 && shape[axis] % (groups * perSample) == 0,
                     "dropout: sample axis \(axis) of \(groups) groups of \(perSample) rows per sample for shape \(shape)")
        let base = rng.next()
        let outer = shape[..<axis].reduce(1, *), size = shape[axis], inner = shape[(axis + 1)...].reduce(1, *)
        let samples = size / (groups * perSample)
        let keep = Tensor.empty(shape)
        let scale = 1 / (1 - p)
        let pk = keep.data
        for s in 0..<samples {
            var g = SplitMix64(seed: base ^ (UInt64(s + sampleOffset) &* 0xD1B5_4A32_D192_ED03))
            _ = g.next()
            for o in 0..<outer {
                for group in 0..<groups {
                    for j in 0..<perSample {
                        let row = pk + (o * size + (group * samples + s) * perSample + j) * inner
                        for i in 0..<inner { row[i] = g.nextFloat() < p ? 0 : scale }
                    }
                }
            }
        }
        return self * keep
    }

    /// The offset in `self` of each element of `index` (row-major): the index's value on
    /// `axis`, the element's own coordinate on every other dimension (the addressing of
    /// torch.gather and scatter_add).
    func indexedOffsets(axis ax: Int, index: IntTensor, op: String) -> [Int] {
        let st = strides, ist = Tensor.contiguousStrides(index.shape)
        var offsets = [Int](repeating: 0, count: index.count)
        for i in 0..<index.count {
            var rem = i, off = 0
            for d in 0..<rank {
                let c = rem / ist[d]
                rem %= ist[d]
                let k = d == ax ? index.values[i] : c
                precondition(k >= 0 && k < shape[d], "\(op): index \(k) out of range on dimension \(d) of size \(shape[d])")
                off += k * st[d]
            }
            offsets[i] = off
        }
        return offsets
    }
}
