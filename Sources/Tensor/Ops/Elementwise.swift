import Foundation

// MARK: - Kernels

/// The shape two shapes broadcast to (numpy rules), or nil.
public func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
    let n = max(a.count, b.count)
    var out = [Int](repeating: 1, count: n)
    for i in 0..<n {
        let da = i < n - a.count ? 1 : a[i - (n - a.count)]
        let db = i < n - b.count ? 1 : b[i - (n - b.count)]
        if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
    }
    return out
}

/// Strides to read a tensor of `shape` as if broadcast to `out` (0 along broadcast dims).
func broadcastStrides(_ shape: [Int], to out: [Int]) -> [Int] {
    let s = Tensor.contiguousStrides(shape)
    let offset = out.count - shape.count
    return (0..<out.count).map { i in
        i < offset ? 0 : (shape[i - offset] == 1 && out[i] != 1 ? 0 : s[i - offset])
    }
}

/// Merges adjacent dimensions `d, d + 1` of an elementwise loop where both stride lists continue
/// across them (`s[d] == s[d + 1] * shape[d + 1]`, which includes two broadcast strides of 0);
/// size-1 dimensions are dropped. Keeps at least one dimension.
func coalesceDimensions(_ shape: [Int], _ sa: [Int], _ sb: [Int]) -> ([Int], [Int], [Int]) {
    var outShape: [Int] = [], outA: [Int] = [], outB: [Int] = []
    for d in shape.indices where shape[d] != 1 {
        if let last = outShape.last, outA.last! == sa[d] * shape[d], outB.last! == sb[d] * shape[d] {
            outShape[outShape.count - 1] = last * shape[d]
            outA[outA.count - 1] = sa[d]
            outB[outB.count - 1] = sb[d]
        } else {
            outShape.append(shape[d])
            outA.append(sa[d])
            outB.append(sb[d])
        }
    }
    if outShape.isEmpty { return ([1], [0], [0]) }
    return (outShape, outA, outB)
}

/// A function of two elements. The common ones are types of their own, so that the kernel
/// specialised for them has the operation inlined in its loops (a closure reached the loops,
/// inside the parallel-for closure, as a call per element that blocked vectorisation).
protocol BinaryFunction {
    func callAsFunction(_ x: Float, _ y: Float) -> Float
}

struct AddFunction: BinaryFunction {
    @inline(__always) func callAsFunction(_ x: Float, _ y: Float) -> Float { x + y }
}

struct SubtractFunction: BinaryFunction {
    @inline(__always) func callAsFunction(_ x: Float, _ y: Float) -> Float { x - y }
}

struct MultiplyFunction: BinaryFunction {
    @inline(__always) func callAsFunction(_ x: Float, _ y: Float) -> Float { x * y }
}

struct DivideFunction: BinaryFunction {
    @inline(__always) func callAsFunction(_ x: Float, _ y: Float) -> Float { x / y }
}

/// ReLU's backward: the gradient `x` where the output `y` is positive.
struct ReLUGradientFunction: BinaryFunction {
    @inline(__always) func callAsFunction(_ x: Float, _ y: Float) -> Float { y > 0 ? x : 0 }
}

struct ClosureFunction: BinaryFunction {
    let f: (Float, Float) -> Float
    @inline(__always) func callAsFunction(_ x: Float, _ y: Float) -> Float { f(x, y) }
}

/// Applies `f` elementwise to `a` and `b` broadcast together.
@inline(__always)
func binaryKernel(_ a: Tensor, _ b: Tensor, _ name: String, _ f: (Float, Float) -> Float) -> Tensor {
    withoutActuallyEscaping(f) { f in binaryKernel(a, b, name, ClosureFunction(f: f)) }
}

/// Applies `f` elementwise to `a` and `b` broadcast together.
func binaryKernel<F: BinaryFunction>(_ a: Tensor, _ b: Tensor, _ name: String, _ f: F) -> Tensor {
    if a.shape == b.shape {
        let out = Tensor.empty(a.shape)
        let pa = a.data, pb = b.data, po = out.data
        Threads.parallelFor(a.count) { r in
            for i in r { po[i] = f(pa[i], pb[i]) }
        }
        return out
    }
    guard let shape = broadcastShape(a.shape, b.shape) else {
        preconditionFailure("\(name): shapes \(a.shape) and \(b.shape) do not broadcast")
    }
    let out = Tensor.empty(shape)
    let po = out.data, pa = a.data, pb = b.data
    if b.count == 1 {
        let v = pb[0]
        Threads.parallelFor(out.count) { r in for i in r { po[i] = f(pa[i], v) } }
        return out
    }
    if a.count == 1 {
        let v = pa[0]
        Threads.parallelFor(out.count) { r in for i in r { po[i] = f(v, pb[i]) } }
        return out
    }
    // General case: odometer over the outer dimensions, a strided inner loop over the last.
    // Adjacent dimensions that both operands walk as one (contiguous, or both broadcast) are
    // merged first, so that e.g. [512, 512, 3, 3] * [512, 1, 1, 1] runs as rows of 4608
    // instead of rows of 3.
    let (dims, sa, sb) = coalesceDimensions(shape, broadcastStrides(a.shape, to: shape), broadcastStrides(b.shape, to: shape))
    let rank = dims.count
    let inner = dims[rank - 1]
    let rows = out.count / max(inner, 1)
    let ia = sa[rank - 1], ib = sb[rank - 1]
    Threads.parallelFor(rows, costPerItem: inner) { r in
        for row in r {
            var rem = row, oa = 0, ob = 0
            for d in stride(from: rank - 2, through: 0, by: -1) {
                let idx = rem % dims[d]
                rem /= dims[d]
                oa += idx * sa[d]
                ob += idx * sb[d]
            }
            let o = po + row * inner
            if ia == 1 && ib == 1 {
                for j in 0..<inner { o[j] = f(pa[oa + j], pb[ob + j]) }
            } else if ia == 1 && ib == 0 {
                let v = pb[ob]
                for j in 0..<inner { o[j] = f(pa[oa + j], v) }
            } else if ia == 0 && ib == 1 {
                let v = pa[oa]
                for j in 0..<inner { o[j] = f(v, pb[ob + j]) }
            } else {
                for j in 0..<inner { o[j] = f(pa[oa + j * ia], pb[ob + j * ib]) }
            }
        }
    }
    return out
}

/// A function of one element; the cheap common ones are types of their own (see BinaryFunction).
protocol UnaryFunction {
    func callAsFunction(_ x: Float) -> Float
}

struct AddScalarFunction: UnaryFunction {
    let s: Float
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x + s }
}

struct ScaleFunction: UnaryFunction {
    let s: Float
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x * s }
}

struct NegateFunction: UnaryFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { -x }
}

struct ReLUFunction: UnaryFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x > 0 ? x : 0 }
}

struct UnaryClosureFunction: UnaryFunction {
    let f: (Float) -> Float
    @inline(__always) func callAsFunction(_ x: Float) -> Float { f(x) }
}

/// Applies `f` to every element.
@inline(__always)
func unaryKernel(_ a: Tensor, _ f: (Float) -> Float) -> Tensor {
    withoutActuallyEscaping(f) { f in unaryKernel(a, UnaryClosureFunction(f: f)) }
}

/// Applies `f` to every element.
func unaryKernel<F: UnaryFunction>(_ a: Tensor, _ f: F) -> Tensor {
    let out = Tensor.empty(a.shape)
    let pa = a.data, po = out.data
    Threads.parallelFor(a.count, costPerItem: 4) { r in for i in r { po[i] = f(pa[i]) } }
    return out
}

// MARK: - Binary ops

extension Tensor {
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        let out = binaryKernel(a, b, "add", AddFunction())
        return record(out, "add", [a, b]) { g in [g.unbroadcast(to: a.shape), g.unbroadcast(to: b.shape)] }
    }

    public static func - (a: Tensor, b: Tensor) -> Tensor {
        let out = binaryKernel(a, b, "sub", SubtractFunction())
        return record(out, "sub", [a, b]) { g in [g.unbroadcast(to: a.shape), (-g).unbroadcast(to: b.shape)] }
    }

    public static func * (a: Tensor, b: Tensor) -> Tensor {
        let out = binaryKernel(a, b, "mul", MultiplyFunction())
        return record(out, "mul", [a, b]) { g in
            [a.requiresGrad ? (g * b).unbroadcast(to: a.shape) : nil,
             b.requiresGrad ? (g * a).unbroadcast(to: b.shape) : nil]
        }
    }

    public static func / (a: Tensor, b: Tensor) -> Tensor {
        let out = binaryKernel(a, b, "div", DivideFunction())
        return record(out, "div", [a, b]) { g in
            [a.requiresGrad ? (g / b).unbroadcast(to: a.shape) : nil,
             b.requiresGrad ? (-(g * a) / (b * b)).unbroadcast(to: b.shape) : nil]
        }
    }

    public static func + (a: Tensor, s: Float) -> Tensor {
        let out = unaryKernel(a, AddScalarFunction(s: s))
        return record(out, "add_scalar", [a]) { g in [g] }
    }

    public static func + (s: Float, a: Tensor) -> Tensor { a + s }
    public static func - (a: Tensor, s: Float) -> Tensor { a + (-s) }

    public static func - (s: Float, a: Tensor) -> Tensor {
        let out = unaryKernel(a) { s - $0 }
        return record(out, "rsub_scalar", [a]) { g in [-g] }
    }

    public static func * (a: Tensor, s: Float) -> Tensor {
        let out = unaryKernel(a, ScaleFunction(s: s))
        return record(out, "mul_scalar", [a]) { g in [g * s] }
    }

    public static func * (s: Float, a: Tensor) -> Tensor { a * s }
    public static func / (a: Tensor, s: Float) -> Tensor { a * (1 / s) }

    public static prefix func - (a: Tensor) -> Tensor {
        let out = unaryKernel(a, NegateFunction())
        return record(out, "neg", [a]) { g in [-g] }
    }

    /// Elementwise maximum (gradient to the larger; ties to `a`).
    public func maximum(_ b: Tensor) -> Tensor {
        let a = self
        let out = binaryKernel(a, b, "maximum") { Swift.max($0, $1) }
        return Tensor.record(out, "maximum", [a, b]) { g in
            let maskA = binaryKernel(a, b, "maximum") { $0 >= $1 ? 1 : 0 }
            return [(g * maskA).unbroadcast(to: a.shape), (g * (1 - maskA)).unbroadcast(to: b.shape)]
        }
    }

    /// Elementwise minimum (gradient to the smaller; ties to `a`).
    public func minimum(_ b: Tensor) -> Tensor {
        let a = self
        let out = binaryKernel(a, b, "minimum") { Swift.min($0, $1) }
        return Tensor.record(out, "minimum", [a, b]) { g in
            let maskA = binaryKernel(a, b, "minimum") { $0 <= $1 ? 1 : 0 }
            return [(g * maskA).unbroadcast(to: a.shape), (g * (1 - maskA)).unbroadcast(to: b.shape)]
        }
    }
}

// MARK: - Unary ops

extension Tensor {
    public func exp() -> Tensor {
        let out = unaryKernel(self) { Foundation.exp($0) }
        return Tensor.record(out, "exp", [self]) { g in [g * out] }
    }

    public func log() -> Tensor {
        let a = self
        let out = unaryKernel(a) { Foundation.log($0) }
        return Tensor.record(out, "log", [a]) { g in [g / a] }
    }

    public func sqrt() -> Tensor {
        let out = unaryKernel(self) { $0.squareRoot() }
        return Tensor.record(out, "sqrt", [self]) { g in [g / (out * 2)] }
    }

    /// `self ** p` for a constant exponent.
    public func pow(_ p: Float) -> Tensor {
        let a = self
        let out = unaryKernel(a) { Foundation.pow($0, p) }
        return Tensor.record(out, "pow", [a]) { g in [g * unaryKernel(a) { p * Foundation.pow($0, p - 1) }] }
    }

    public func abs() -> Tensor {
        let a = self
        let out = unaryKernel(a) { Swift.abs($0) }
        return Tensor.record(out, "abs", [a]) { g in [g * unaryKernel(a) { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) }] }
    }

    /// Clamps to [min, max] (either bound optional); gradient 1 strictly inside, as PyTorch
    /// (which passes the gradient where min <= x <= max).
    public func clamp(min lo: Float? = nil, max hi: Float? = nil) -> Tensor {
        let a = self
        let l = lo ?? -Float.infinity, h = hi ?? Float.infinity
        let out = unaryKernel(a) { Swift.min(Swift.max($0, l), h) }
        return Tensor.record(out, "clamp", [a]) { g in [g * unaryKernel(a) { $0 >= l && $0 <= h ? 1 : 0 }] }
    }

    public func relu() -> Tensor {
        let out = unaryKernel(self, ReLUFunction())
        return Tensor.record(out, "relu", [self]) { g in [binaryKernel(g, out, "relu_backward", ReLUGradientFunction())] }
    }

    public func sigmoid() -> Tensor {
        let out = unaryKernel(self) { 1 / (1 + Foundation.exp(-$0)) }
        return Tensor.record(out, "sigmoid", [self]) { g in [binaryKernel(g, out, "sigmoid_backward") { $0 * $1 * (1 - $1) }] }
    }

    public func sin() -> Tensor {
        let a = self
        let out = unaryKernel(a) { Foundation.sin($0) }
        return Tensor.record(out, "sin", [a]) { g in [binaryKernel(g, a, "sin_backward") { $0 * Foundation.cos($1) }] }
    }

    public func cos() -> Tensor {
        let a = self
        let out = unaryKernel(a) { Foundation.cos($0) }
        return Tensor.record(out, "cos", [a]) { g in [binaryKernel(g, a, "cos_backward") { -$0 * Foundation.sin($1) }] }
    }

    public func tanh() -> Tensor {
        let out = unaryKernel(self) { Foundation.tanh($0) }
        return Tensor.record(out, "tanh", [self]) { g in [binaryKernel(g, out, "tanh_backward") { $0 * (1 - $1 * $1) }] }
    }

    /// GELU with the exact erf form (PyTorch's default `approximate='none'`).
    public func gelu() -> Tensor {
        let a = self
        let out = unaryKernel(a) { 0.5 * $0 * (1 + Foundation.erf($0 * 0.70710678118654752)) }
        return Tensor.record(out, "gelu", [a]) { g in
            [binaryKernel(g, a, "gelu_backward") { gv, x in
                let cdf = 0.5 * (1 + Foundation.erf(x * 0.70710678118654752))
                let pdf = Foundation.exp(-0.5 * x * x) * 0.3989422804014327
                return gv * (cdf + x * pdf)
            }]
        }
    }
}

extension Tensor {
    /// relu(self + other) for equal shapes in one pass (the residual join of ResNet blocks).
    public func addReLU(_ other: Tensor) -> Tensor {
        precondition(shape == other.shape, "addReLU: shapes \(shape) and \(other.shape) differ")
        let a = self, b = other
        let out = Tensor.empty(shape)
        let pa = a.data, pb = b.data, po = out.data
        Threads.parallelFor(count, costPerItem: 2) { r in
            for i in r {
                let v = pa[i] + pb[i]
                po[i] = v > 0 ? v : 0
            }
        }
        return Tensor.record(out, "add_relu", [a, b]) { g in
            let gm = binaryKernel(g, out, "add_relu_backward", ReLUGradientFunction())
            return [gm, gm]
        }
    }
}
