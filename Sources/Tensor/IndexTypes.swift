/// Integer indices with a shape (the Int64 companion of Tensor for gather, embedding, labels).
public struct IntTensor: Equatable, Sendable {
    public var shape: [Int]
    public var values: [Int]

    public init(_ values: [Int], shape: [Int]) {
        precondition(values.count == shape.reduce(1, *), "IntTensor: \(values.count) values for shape \(shape)")
        self.values = values
        self.shape = shape
    }

    public init(_ values: [Int]) {
        self.init(values, shape: [values.count])
    }

    public var count: Int { values.count }
}

/// Booleans with a shape (masks: padding masks, masked_fill, where).
public struct BoolTensor: Equatable, Sendable {
    public var shape: [Int]
    public var values: [Bool]

    public init(_ values: [Bool], shape: [Int]) {
        precondition(values.count == shape.reduce(1, *), "BoolTensor: \(values.count) values for shape \(shape)")
        self.values = values
        self.shape = shape
    }

    public var count: Int { values.count }

    /// 1 where true, 0 where false.
    public var asFloat: Tensor { Tensor(values.map { $0 ? 1 : 0 }, shape: shape) }

    public func reshaped(_ s: [Int]) -> BoolTensor { BoolTensor(values, shape: s) }
}

extension Tensor {
    /// Elementwise comparison to a mask.
    public func greater(than v: Float) -> BoolTensor { BoolTensor(scalars.map { $0 > v }, shape: shape) }
    public func less(than v: Float) -> BoolTensor { BoolTensor(scalars.map { $0 < v }, shape: shape) }
}
