/// How a file stores one number (little-endian). Every kind reads as Float32: integers and
/// booleans by value, float64 rounded to nearest. Shared by the safetensors and PyTorch readers.
public enum StoredScalar: String, Sendable, Equatable, CaseIterable {
    case f64, f32, f16, bf16, i64, i32, i16, i8, u8, bool

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f64, .i64: return 8
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8, .u8, .bool: return 1
        }
    }

    /// Element `index` of the data at `base` (unaligned loads; the caller checked the bounds).
    @inline(__always)
    func load(_ base: UnsafeRawPointer, _ index: Int) -> Float {
        switch self {
        case .f64: return Float(Double(bitPattern: base.loadUnaligned(fromByteOffset: 8 * index, as: UInt64.self).littleEndian))
        case .f32: return Float(bitPattern: base.loadUnaligned(fromByteOffset: 4 * index, as: UInt32.self).littleEndian)
        case .f16: return Float(Float16(bitPattern: base.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self).littleEndian))
        case .bf16:
            return Float(bitPattern: UInt32(base.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self).littleEndian) << 16)
        case .i64: return Float(Int64(littleEndian: base.loadUnaligned(fromByteOffset: 8 * index, as: Int64.self)))
        case .i32: return Float(Int32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * index, as: Int32.self)))
        case .i16: return Float(Int16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * index, as: Int16.self)))
        case .i8: return Float(Int8(bitPattern: base.load(fromByteOffset: index, as: UInt8.self)))
        case .u8: return Float(base.load(fromByteOffset: index, as: UInt8.self))
        case .bool: return base.load(fromByteOffset: index, as: UInt8.self) != 0 ? 1 : 0
        }
    }

    /// Converts `count` consecutive elements at `src` into `dst`.
    func decode(_ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        switch self {
        case .f32:
            for i in 0..<count { dst[i] = Float(bitPattern: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self).littleEndian) }
        case .f16:
            for i in 0..<count { dst[i] = Float(Float16(bitPattern: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian)) }
        default:
            for i in 0..<count { dst[i] = load(src, i) }
        }
    }
}
