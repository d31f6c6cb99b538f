import COpenBLAS

/// C = alpha * op(A) * op(B) + beta * C, row-major, through OpenBLAS.
@inline(__always)
func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
           a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
           beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        if beta == 0 { c.update(repeating: 0, count: m * ldc) }
        return
    }
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// Batched GEMM: `batch` independent products at fixed strides. Large products use OpenBLAS's
/// own threads one after another; small ones (attention heads) run in parallel across the
/// batch, each on one thread, since splitting a small GEMM across threads makes it slower.
func batchedSgemm(batch: Int, transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                  a: UnsafePointer<Float>, strideA: Int, lda: Int, b: UnsafePointer<Float>, strideB: Int, ldb: Int,
                  beta: Float = 0, c: UnsafeMutablePointer<Float>, strideC: Int, ldc: Int) {
    let flops = m * n * k
    if batch == 1 || flops >= 1 << 21 {
        for i in 0..<batch {
            sgemm(transA: transA, transB: transB, m: m, n: n, k: k, a: a + i * strideA, lda: lda,
                  b: b + i * strideB, ldb: ldb, beta: beta, c: c + i * strideC, ldc: ldc)
        }
        return
    }
    let previous = BLAS.threads
    BLAS.setThreads(1)
    defer { BLAS.setThreads(previous) }
    Threads.parallelFor(batch, costPerItem: flops) { r in
        for i in r {
            sgemm(transA: transA, transB: transB, m: m, n: n, k: k, a: a + i * strideA, lda: lda,
                  b: b + i * strideB, ldb: ldb, beta: beta, c: c + i * strideC, ldc: ldc)
        }
    }
}

/// OpenBLAS's thread count, kept in step with `Threads.count`.
enum BLAS {
    nonisolated(unsafe) static var threads: Int = {
        let n = Threads.count
        openblas_set_num_threads(Int32(n))
        return n
    }()

    static func setThreads(_ n: Int) {
        if n != threads {
            openblas_set_num_threads(Int32(n))
            threads = n
        }
    }
}

extension Tensor {
    /// Matrix product with numpy semantics: [..., M, K] x [..., K, N] -> [..., M, N], batch
    /// dimensions broadcast; a 1-D operand is a row (left) or column (right) vector.
    public func matmul(_ other: Tensor) -> Tensor {
        if rank == 1 { return unsqueeze(0).matmul(other).squeeze(-2) }
        if other.rank == 1 { return matmul(other.unsqueeze(1)).squeeze(-1) }
        let a = self, b = other
        let m = a.shape[a.rank - 2], k = a.shape[a.rank - 1]
        let k2 = b.shape[b.rank - 2], n = b.shape[b.rank - 1]
        precondition(k == k2, "matmul: \(a.shape) x \(b.shape): inner dimensions \(k) and \(k2) differ")
        BLAS.setThreads(Threads.count)
        if b.rank == 2 {
            // Fold a's batch dimensions into M: one GEMM.
            let batchShape = Array(a.shape.dropLast(2))
            let rows = batchShape.reduce(1, *) * m
            let out = Tensor.empty(batchShape + [m, n])
            sgemm(transA: false, transB: false, m: rows, n: n, k: k, a: a.data, lda: k, b: b.data, ldb: n, c: out.data, ldc: n)
            return Tensor.record(out, "matmul", [a, b]) { g in
                var ga: Tensor? = nil, gb: Tensor? = nil
                if a.requiresGrad {
                    let t = Tensor.empty(a.shape)
                    sgemm(transA: false, transB: true, m: rows, n: k, k: n, a: g.data, lda: n, b: b.data, ldb: n, c: t.data, ldc: k)
                    ga = t
                }
                if b.requiresGrad {
                    let t = Tensor.empty(b.shape)
                    sgemm(transA: true, transB: false, m: k, n: n, k: rows, a: a.data, lda: k, b: g.data, ldb: n, c: t.data, ldc: n)
                    gb = t
                }
                return [ga, gb]
            }
        }
        let batchA = Array(a.shape.dropLast(2)), batchB = Array(b.shape.dropLast(2))
        guard let batchShape = broadcastShape(batchA, batchB) else {
            preconditionFailure("matmul: batch dimensions of \(a.shape) and \(b.shape) do not broadcast")
        }
        let ae = a.expand(batchShape + [m, k]), be = b.expand(batchShape + [k, n])
        let batch = batchShape.reduce(1, *)
        let out = Tensor.empty(batchShape + [m, n])
        batchedSgemm(batch: batch, transA: false, transB: false, m: m, n: n, k: k, a: ae.data, strideA: m * k, lda: k,
                     b: be.data, strideB: k * n, ldb: n, c: out.data, strideC: m * n, ldc: n)
        return Tensor.record(out, "bmm", [ae, be]) { g in
            var ga: Tensor? = nil, gb: Tensor? = nil
            if ae.requiresGrad {
                let t = Tensor.empty(ae.shape)
                batchedSgemm(batch: batch, transA: false, transB: true, m: m, n: k, k: n, a: g.data, strideA: m * n, lda: n,
                             b: be.data, strideB: k * n, ldb: n, c: t.data, strideC: m * k, ldc: k)
                ga = t
            }
            if be.requiresGrad {
                let t = Tensor.empty(be.shape)
                batchedSgemm(batch: batch, transA: true, transB: false, m: k, n: n, k: m, a: ae.data, strideA: m * k, lda: k,
                             b: g.data, strideB: m * n, ldb: n, c: t.data, strideC: k * n, ldc: n)
                gb = t
            }
            return [ga, gb]
        }
    }

    /// `x @ weight^T + bias` with PyTorch's Linear layout: weight [out, in], bias [out].
    public func linear(weight: Tensor, bias: Tensor? = nil) -> Tensor {
        let x = self
        let inF = weight.shape[1], outF = weight.shape[0]
        precondition(weight.rank == 2 && x.shape.last == inF, "linear: input \(x.shape) with weight \(weight.shape)")
        if let bias { precondition(bias.shape == [outF], "linear: bias \(bias.shape) for \(outF) outputs") }
        BLAS.setThreads(Threads.count)
        let rows = x.count / Swift.max(inF, 1)
        let outShape = Array(x.shape.dropLast()) + [outF]
        let out = Tensor.empty(outShape)
        if let bias {
            for r in 0..<rows { (out.data + r * outF).update(from: bias.data, count: outF) }
        }
        sgemm(transA: false, transB: true, m: rows, n: outF, k: inF, a: x.data, lda: inF, b: weight.data, ldb: inF,
              beta: bias == nil ? 0 : 1, c: out.data, ldc: outF)
        let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
        return Tensor.record(out, "linear", inputs) { g in
            var gx: Tensor? = nil, gw: Tensor? = nil, gb: Tensor? = nil
            if x.requiresGrad {
                let t = Tensor.empty(x.shape)
                sgemm(transA: false, transB: false, m: rows, n: inF, k: outF, a: g.data, lda: outF, b: weight.data, ldb: inF, c: t.data, ldc: inF)
                gx = t
            }
            if weight.requiresGrad {
                let t = Tensor.empty(weight.shape)
                sgemm(transA: true, transB: false, m: outF, n: inF, k: rows, a: g.data, lda: outF, b: x.data, ldb: inF, c: t.data, ldc: inF)
                gw = t
            }
            if let bias, bias.requiresGrad {
                gb = g.reshape([rows, outF]).sum(axis: 0)
            }
            return bias == nil ? [gx, gw] : [gx, gw, gb]
        }
    }
}
