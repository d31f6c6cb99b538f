import CKernels
import Dispatch
import Foundation

extension Tensor {
    /// Normalises every row of the last `rowSize` elements to zero mean and unit (biased)
    /// variance: the shared core of layer, group and batch norm. Backward:
    /// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)).
    func normalizeRows(rowSize d: Int, eps: Float) -> (out: Tensor, mean: [Float], variance: [Float]) {
        let a = self
        precondition(d > 0 && count % d == 0, "normalize: \(count) elements are not rows of \(d)")
        let rows = count / d
        let out = Tensor.empty(shape)
        var means = [Float](repeating: 0, count: rows), vars = [Float](repeating: 0, count: rows)
        var rstds = [Float](repeating: 0, count: rows)
        let pa = a.data, po = out.data
        means.withUnsafeMutableBufferPointer { mp in
            vars.withUnsafeMutableBufferPointer { vp in
                rstds.withUnsafeMutableBufferPointer { rp in
                    nonisolated(unsafe) let m = mp.baseAddress!, v = vp.baseAddress!, rs = rp.baseAddress!
                    Threads.parallelFor(rows, costPerItem: d * 3) { r in
                        for row in r {
                            let x = pa + row * d, y = po + row * d
                            var s = 0.0
                            for j in 0..<d { s += Double(x[j]) }
                            let mean = Float(s / Double(d))
                            var q = 0.0
                            for j in 0..<d {
                                let c = x[j] - mean
                                q += Double(c * c)
                            }
                            let variance = Float(q / Double(d))
                            let rstd = 1 / (variance + eps).squareRoot()
                            for j in 0..<d { y[j] = (x[j] - mean) * rstd }
                            m[row] = mean
                            v[row] = variance
                            rs[row] = rstd
                        }
                    }
                }
            }
        }
        let result = Tensor.record(out, "normalize", [a]) { g in
            let ga = Tensor.empty(a.shape)
            let pg = g.data, py = out.data, pd = ga.data
            rstds.withUnsafeBufferPointer { rp in
                nonisolated(unsafe) let rs = rp.baseAddress!
                Threads.parallelFor(rows, costPerItem: d * 3) { r in
                    for row in r {
                        let gr = pg + row * d, yr = py + row * d, dr = pd + row * d
                        var sg: Float = 0, sgy: Float = 0
                        for j in 0..<d {
                            sg += gr[j]
                            sgy += gr[j] * yr[j]
                        }
                        let mg = sg / Float(d), mgy = sgy / Float(d)
                        let rstd = rs[row]
                        for j in 0..<d { dr[j] = rstd * (gr[j] - mg - yr[j] * mgy) }
                    }
                }
            }
            return [ga]
        }
        return (result, means, vars)
    }

    /// Layer norm over the last dimension (PyTorch's `nn.LayerNorm(d)`): weight and bias [d].
    /// One fused pass forward (statistics, normalisation and affine) and one backward.
    public func layerNorm(weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
        let x = self
        let d = shape.last ?? 1
        precondition(d > 0, "layerNorm: empty last dimension")
        if let weight { precondition(weight.shape == [d], "layerNorm: weight \(weight.shape) for rows of \(d)") }
        if let bias { precondition(bias.shape == [d], "layerNorm: bias \(bias.shape) for rows of \(d)") }
        let rows = count / d
        let out = Tensor.empty(shape)
        let stats = Tensor.empty([rows, 2])  // mean, rstd
        let px = x.data, po = out.data, ps = stats.data
        let pw = weight?.data, pb = bias?.data
        Threads.parallelFor(rows, costPerItem: d * 4) { r in
            detr_layernorm_rows(px + r.lowerBound * d, po + r.lowerBound * d, pw, pb, ps + 2 * r.lowerBound, r.count, d, eps)
        }
        var inputs = [x]
        if let weight { inputs.append(weight) }
        if let bias { inputs.append(bias) }
        return Tensor.record(out, "layer_norm", inputs) { g in
            // The closure owns `stats` (the saved mean and rstd that `ps` points into).
            let ps = stats.data
            let gx = Tensor.empty(x.shape)
            let pg = g.data, pd = gx.data
            let chunks = Swift.min(Threads.count, Swift.max(rows, 1))
            // Per-chunk partial sums of the weight and bias gradients.
            let partial = Tensor.zeros([chunks, 2, d])
            let pp = partial.data
            withoutActuallyEscaping({ (chunk: Int) in
                let lo = rows * chunk / chunks, hi = rows * (chunk + 1) / chunks
                let gwAcc = pp + chunk * 2 * d, gbAcc = gwAcc + d
                for row in lo..<hi {
                    let xr = px + row * d, gr = pg + row * d, dr = pd + row * d
                    let mean = ps[2 * row], rstd = ps[2 * row + 1]
                    var sg: Float = 0, sgy: Float = 0
                    for j in 0..<d {
                        let xhat = (xr[j] - mean) * rstd
                        let gy = gr[j] * (pw?[j] ?? 1)
                        sg += gy
                        sgy += gy * xhat
                        gwAcc[j] += gr[j] * xhat
                        gbAcc[j] += gr[j]
                    }
                    let mg = sg / Float(d), mgy = sgy / Float(d)
                    for j in 0..<d {
                        let xhat = (xr[j] - mean) * rstd
                        let gy = gr[j] * (pw?[j] ?? 1)
                        dr[j] = rstd * (gy - mg - xhat * mgy)
                    }
                }
            }) { body in
                nonisolated(unsafe) let b = body
                if chunks == 1 { b(0) } else { DispatchQueue.concurrentPerform(iterations: chunks) { b($0) } }
            }
            var grads: [Tensor?] = [gx]
            if weight != nil {
                let gw = Tensor.zeros([d])
                for c in 0..<chunks { for j in 0..<d { gw.data[j] += pp[c * 2 * d + j] } }
                grads.append(gw)
            }
            if bias != nil {
                let gb = Tensor.zeros([d])
                for c in 0..<chunks { for j in 0..<d { gb.data[j] += pp[c * 2 * d + d + j] } }
                grads.append(gb)
            }
            return grads
        }
    }

    /// Group norm of [N, C, ...] with `groups` groups and per-channel weight and bias [C].
    public func groupNorm(groups: Int, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
        precondition(rank >= 2 && shape[1] % groups == 0, "groupNorm: \(shape[1]) channels in \(groups) groups")
        let n = shape[0], c = shape[1]
        let perGroup = count / (n * groups)
        var y = normalizeRows(rowSize: perGroup, eps: eps).out
        let channelShape = [1, c] + [Int](repeating: 1, count: rank - 2)
        if let weight { y = y * weight.reshape(channelShape) }
        if let bias { y = y + bias.reshape(channelShape) }
        return y
    }

    /// Batch norm of [N, C, ...]. In training, normalises with the batch statistics and
    /// updates `runningMean`/`runningVar` in place (momentum, unbiased variance, as PyTorch);
    /// otherwise uses the running statistics.
    public func batchNorm(weight: Tensor?, bias: Tensor?, runningMean: Tensor, runningVar: Tensor,
                          training: Bool, momentum: Float = 0.1, eps: Float = 1e-5) -> Tensor {
        precondition(rank >= 2, "batchNorm: input of rank \(rank)")
        let c = shape[1]
        let channelShape = [1, c] + [Int](repeating: 1, count: rank - 2)
        if !training {
            let scale = Tensor.empty([c]), shift = Tensor.empty([c])
            for i in 0..<c {
                let w = weight?.data[i] ?? 1, b = bias?.data[i] ?? 0
                let s = w / (runningVar.data[i] + eps).squareRoot()
                scale.data[i] = s
                shift.data[i] = b - runningMean.data[i] * s
            }
            if weight?.requiresGrad == true || bias?.requiresGrad == true {
                // Keep the affine parameters in the graph.
                let rstd = Tensor((0..<c).map { 1 / (runningVar.data[$0] + eps).squareRoot() }, shape: [c])
                var y = (self - runningMean.reshape(channelShape)) * rstd.reshape(channelShape)
                if let weight { y = y * weight.reshape(channelShape) }
                if let bias { y = y + bias.reshape(channelShape) }
                return y
            }
            return channelAffine(scale: scale, shift: shift)
        }
        // Channels first, normalise each channel's row, back to the input layout.
        var order = Array(0..<rank)
        order.swapAt(0, 1)
        let perChannel = self.permute(order)
        let rows = perChannel.contiguousRows(c)
        let normed: Tensor, means: [Float], vars: [Float], m: Float
        if let sum = DataParallel.sum {
            (normed, means, vars, m) = rows.normalizeRowsAcrossProcesses(eps: eps, sum: sum)
        } else {
            (normed, means, vars) = rows.normalizeRows(rowSize: count / c, eps: eps)
            m = Float(count / c)
        }
        var y = normed.reshape(perChannel.shape).permute(order)
        for i in 0..<c {
            runningMean.data[i] = (1 - momentum) * runningMean.data[i] + momentum * means[i]
            let unbiased = m > 1 ? vars[i] * m / (m - 1) : vars[i]
            runningVar.data[i] = (1 - momentum) * runningVar.data[i] + momentum * unbiased
        }
        if let weight { y = y * weight.reshape(channelShape) }
        if let bias { y = y + bias.reshape(channelShape) }
        return y
    }

    func contiguousRows(_ rows: Int) -> Tensor { reshape([rows, count / rows]) }

    /// `normalizeRows` of [C, n] rows whose statistics span every process of a data-parallel
    /// run (synchronised batch norm): the row sums and sums of squares are added over the
    /// processes (`sum`) before the mean and variance are formed, and the backward pass adds
    /// the row sums of g and g * xhat the same way. Returns the global element count per row too.
    func normalizeRowsAcrossProcesses(eps: Float, sum: @escaping (inout [Double]) -> Void)
        -> (out: Tensor, mean: [Float], variance: [Float], count: Float) {
        let a = self
        let c = shape[0], d = shape[1]
        // Row sums, sums of squares and the element count, over every process.
        var stats = [Double](repeating: 0, count: 2 * c + 1)
        let pa = a.data
        for row in 0..<c {
            let x = pa + row * d
            var s = 0.0, q = 0.0
            for j in 0..<d {
                let v = Double(x[j])
                s += v
                q += v * v
            }
            stats[row] = s
            stats[c + row] = q
        }
        stats[2 * c] = Double(d)
        sum(&stats)
        let total = stats[2 * c]
        var means = [Float](repeating: 0, count: c), vars = [Float](repeating: 0, count: c)
        var rstds = [Float](repeating: 0, count: c)
        let out = Tensor.empty(shape)
        let po = out.data
        for row in 0..<c {
            let mean = stats[row] / total
            let variance = Swift.max(stats[c + row] / total - mean * mean, 0)
            let rstd = Float(1 / (variance + Double(eps)).squareRoot())
            let mf = Float(mean)
            let x = pa + row * d, y = po + row * d
            for j in 0..<d { y[j] = (x[j] - mf) * rstd }
            means[row] = mf
            vars[row] = Float(variance)
            rstds[row] = rstd
        }
        let result = Tensor.record(out, "sync_normalize", [a]) { g in
            let ga = Tensor.empty(a.shape)
            let pg = g.data, py = out.data, pd = ga.data
            var sums = [Double](repeating: 0, count: 2 * c)
            for row in 0..<c {
                let gr = pg + row * d, yr = py + row * d
                var sg = 0.0, sgy = 0.0
                for j in 0..<d {
                    sg += Double(gr[j])
                    sgy += Double(gr[j] * yr[j])
                }
                sums[row] = sg
                sums[c + row] = sgy
            }
            sum(&sums)
            for row in 0..<c {
                let gr = pg + row * d, yr = py + row * d, dr = pd + row * d
                let mg = Float(sums[row] / total), mgy = Float(sums[c + row] / total)
                let rstd = rstds[row]
                for j in 0..<d { dr[j] = rstd * (gr[j] - mg - yr[j] * mgy) }
            }
            return [ga]
        }
        return (result, means, vars, Float(total))
    }

    /// `x * scale[c] + shift[c]` over channel dimension 1 of [N, C, ...]: frozen batch norm
    /// (FrozenBatchNorm2d with its scale and shift precomputed) in one pass.
    public func channelAffine(scale: Tensor, shift: Tensor) -> Tensor {
        precondition(rank >= 2 && scale.shape == [shape[1]] && shift.shape == [shape[1]],
                     "channelAffine: scale \(scale.shape) / shift \(shift.shape) for input \(shape)")
        let a = self
        let n = shape[0], c = shape[1], inner = count / (n * c)
        let out = Tensor.empty(shape)
        let pa = a.data, po = out.data, ps = scale.data, pb = shift.data
        Threads.parallelFor(n * c, costPerItem: inner) { r in
            for nc in r {
                let ch = nc % c
                let s = ps[ch], b = pb[ch]
                let x = pa + nc * inner, y = po + nc * inner
                for j in 0..<inner { y[j] = x[j] * s + b }
            }
        }
        return Tensor.record(out, "channel_affine", [a, scale, shift]) { g in
            let ga = a.requiresGrad ? g * scale.reshape([1, c] + [Int](repeating: 1, count: a.rank - 2)) : nil
            var gs: Tensor? = nil, gb: Tensor? = nil
            if scale.requiresGrad || shift.requiresGrad {
                let s = Tensor.zeros([c]), b = Tensor.zeros([c])
                for nc in 0..<(n * c) {
                    let ch = nc % c
                    var ss: Float = 0, sb: Float = 0
                    let gr = g.data + nc * inner, xr = a.data + nc * inner
                    for j in 0..<inner {
                        ss += gr[j] * xr[j]
                        sb += gr[j]
                    }
                    s.data[ch] += ss
                    b.data[ch] += sb
                }
                gs = s
                gb = b
            }
            return [ga, gs, gb]
        }
    }
}
