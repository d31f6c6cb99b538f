import Base

/// A Float32 tensor: row-major, contiguous storage with a shape, and a node of the autograd
/// graph when it was computed from tensors that require gradients.
///
/// Tensors are values in practice: ops never mutate their inputs, they return new tensors.
/// `reshape` shares the storage (the only view, made explicit by its name); every other op
/// that changes the layout (permute, slice, expand...) copies. The exceptions are in-place
/// parameter updates by optimizers (`assign`, `update`), which happen outside the graph.
public final class Tensor: @unchecked Sendable, CustomStringConvertible {
    public let shape: [Int]
    public let storage: Storage
    /// Number of elements (product of the shape; 1 for a scalar of shape []).
    public let count: Int
    /// Leaves that require gradients get `grad` filled by `backward()`.
    public var requiresGrad: Bool
    public var grad: Tensor?
    /// The op that produced this tensor (nil for leaves and tensors made without grad).
    var node: Node?

    public init(shape: [Int], storage: Storage, requiresGrad: Bool = false) {
        let n = shape.reduce(1, *)
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in shape \(shape)")
        precondition(storage.count >= n, "Tensor: storage of \(storage.count) floats is too small for shape \(shape)")
        self.shape = shape
        self.storage = storage
        self.count = n
        self.requiresGrad = requiresGrad
    }

    /// A tensor holding `values` (row-major) with this shape.
    public convenience init(_ values: [Float], shape: [Int], requiresGrad: Bool = false) {
        let n = shape.reduce(1, *)
        precondition(values.count == n, "Tensor: \(values.count) values for shape \(shape) (\(n) elements)")
        let s = Storage(count: n)
        values.withUnsafeBufferPointer { s.pointer.update(from: $0.baseAddress!, count: n) }
        self.init(shape: shape, storage: s, requiresGrad: requiresGrad)
    }

    /// A scalar (shape []).
    public convenience init(scalar: Float, requiresGrad: Bool = false) {
        self.init([scalar], shape: [], requiresGrad: requiresGrad)
    }

    /// An uninitialised tensor (for kernels that write every element).
    public static func empty(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, storage: Storage(count: shape.reduce(1, *)))
    }

    public static func zeros(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
        Tensor(shape: shape, storage: Storage(zeros: shape.reduce(1, *)), requiresGrad: requiresGrad)
    }

    public static func ones(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
        full(shape, 1, requiresGrad: requiresGrad)
    }

    public static func full(_ shape: [Int], _ value: Float, requiresGrad: Bool = false) -> Tensor {
        let t = empty(shape)
        t.storage.pointer.initialize(repeating: value, count: t.count)
        t.requiresGrad = requiresGrad
        return t
    }

    /// `start, start + step, ...` below `end` (as torch.arange).
    public static func arange(_ start: Float = 0, _ end: Float, step: Float = 1) -> Tensor {
        precondition(step != 0, "arange: step must not be zero")
        let n = Swift.max(0, Int(((end - start) / step).rounded(.up)))
        let t = empty([n])
        for i in 0..<n { t.storage.pointer[i] = start + Float(i) * step }
        return t
    }

    /// Uniform in [low, high) from the explicit generator.
    public static func uniform(_ shape: [Int], low: Float = 0, high: Float = 1, using rng: inout SplitMix64,
                               requiresGrad: Bool = false) -> Tensor {
        let t = empty(shape)
        let p = t.storage.pointer
        for i in 0..<t.count { p[i] = low + (high - low) * rng.nextFloat() }
        t.requiresGrad = requiresGrad
        return t
    }

    /// Normal(mean, std) from the explicit generator (Box-Muller).
    public static func normal(_ shape: [Int], mean: Float = 0, std: Float = 1, using rng: inout SplitMix64,
                              requiresGrad: Bool = false) -> Tensor {
        let t = empty(shape)
        let p = t.storage.pointer
        for i in 0..<t.count { p[i] = mean + std * Float(rng.nextNormal()) }
        t.requiresGrad = requiresGrad
        return t
    }

    public var rank: Int { shape.count }

    /// The elements in row-major order.
    public var scalars: [Float] {
        Array(UnsafeBufferPointer(start: storage.pointer, count: count))
    }

    /// The value of a one-element tensor.
    public var item: Float {
        precondition(count == 1, "item: tensor of shape \(shape) has \(count) elements")
        return storage.pointer[0]
    }

    /// Read access to the elements.
    @inline(__always)
    public var data: UnsafeMutablePointer<Float> { storage.pointer }

    /// A dimension, negative indices counting from the end.
    public func size(_ dim: Int) -> Int { shape[normalizedAxis(dim)] }

    func normalizedAxis(_ axis: Int) -> Int {
        let a = axis < 0 ? axis + rank : axis
        precondition(a >= 0 && a < Swift.max(rank, 1), "axis \(axis) out of range for shape \(shape)")
        return a
    }

    /// Row-major strides of the shape.
    public var strides: [Int] { Tensor.contiguousStrides(shape) }

    static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            s[i] = acc
            acc *= shape[i]
        }
        return s
    }

    /// The same values, cut from the graph.
    public func detach() -> Tensor {
        Tensor(shape: shape, storage: storage)
    }

    /// A copy with its own storage, cut from the graph.
    public func clone() -> Tensor {
        let t = Tensor.empty(shape)
        t.data.update(from: data, count: count)
        return t
    }

    /// Overwrites the values in place (outside the graph), e.g. to load weights.
    public func assign(_ other: Tensor) {
        precondition(other.shape == shape, "assign: shape \(other.shape) into \(shape)")
        data.update(from: other.data, count: count)
    }

    public var description: String {
        let values = scalars.prefix(8).map { String($0) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(values)\(count > 8 ? ", ..." : "")])"
    }
}
