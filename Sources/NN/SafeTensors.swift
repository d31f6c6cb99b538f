import Base
import Foundation
import Tensor

/// Errors reading or writing safetensors files; each names the file.
public enum SafeTensorsError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case malformed(path: String, reason: String)
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(p, r): return "\(p): cannot read: \(r)"
        case let .malformed(p, r): return "\(p): not a valid safetensors file: \(r)"
        case let .unwritable(p, r): return "\(p): cannot write: \(r)"
        }
    }
}

/// The safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON
/// header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, then the
/// raw little-endian data. Reading validates every size and offset before touching data, so
/// a truncated or lying file is an error, never a crash or a huge allocation.
public enum SafeTensors {
    public enum DType: String, Sendable {
        case f32 = "F32", f16 = "F16", bf16 = "BF16", i64 = "I64"
        var scalar: StoredScalar {
            switch self {
            case .f32: return .f32
            case .f16: return .f16
            case .bf16: return .bf16
            case .i64: return .i64
            }
        }
        var size: Int { scalar.size }
    }

    /// Header sizes above this are refused (the format's reference implementation uses 100 MB).
    static let maxHeader = 100_000_000

    /// Reads every tensor, converting F16, BF16 and I64 to Float32. Metadata is returned too.
    public static func read(_ path: String) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        try parse(try TensorFile.contents(path), path: path)
    }

    public static func parse(_ data: Data, path: String) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        func bad(_ r: String) -> SafeTensorsError { .malformed(path: path, reason: r) }
        guard data.count >= 8 else { throw bad("file is \(data.count) bytes, shorter than the 8-byte header length") }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(data[data.startIndex + i]) << (8 * UInt64(i)) }
        guard n <= UInt64(maxHeader) else { throw bad("header length \(n) is implausible") }
        let headerLen = Int(n)
        guard 8 + headerLen <= data.count else { throw bad("header of \(headerLen) bytes runs past the end of the file (\(data.count) bytes)") }
        let headerData = data.subdata(in: (data.startIndex + 8)..<(data.startIndex + 8 + headerLen))
        guard let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any] else {
            throw bad("header is not a JSON object")
        }
        let dataStart = 8 + headerLen
        let dataLen = data.count - dataStart
        var metadata: [String: String] = [:]
        var spans: [(Int, Int, String)] = []
        var tensors: [String: Tensor] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else { throw bad("__metadata__ is not an object") }
                for (k, v) in m { metadata[k] = (v as? String) ?? "\(v)" }
                continue
            }
            guard let entry = value as? [String: Any], let dtypeName = entry["dtype"] as? String,
                  let shapeAny = entry["shape"] as? [Any], let offsetsAny = entry["data_offsets"] as? [Any], offsetsAny.count == 2 else {
                throw bad("entry '\(name)' lacks dtype, shape or data_offsets")
            }
            guard let dtype = DType(rawValue: dtypeName) else { throw bad("entry '\(name)' has unsupported dtype \(dtypeName)") }
            var shape: [Int] = []
            var elements = 1
            for s in shapeAny {
                guard let d = (s as? NSNumber)?.intValue, d >= 0, d < 1 << 40 else { throw bad("entry '\(name)' has a bad shape") }
                shape.append(d)
                let (p, overflow) = elements.multipliedReportingOverflow(by: d)
                guard !overflow, p < 1 << 40 else { throw bad("entry '\(name)' has an implausible shape \(shape)") }
                elements = p
            }
            guard let begin = (offsetsAny[0] as? NSNumber)?.intValue, let end = (offsetsAny[1] as? NSNumber)?.intValue,
                  begin >= 0, end >= begin, end <= dataLen else {
                throw bad("entry '\(name)' has data offsets outside the \(dataLen) data bytes")
            }
            guard end - begin == elements * dtype.size else {
                throw bad("entry '\(name)': \(end - begin) bytes for shape \(shape) of \(dtypeName) (\(elements * dtype.size) expected)")
            }
            spans.append((begin, end, name))
            let t = Tensor.empty(shape)
            data.withUnsafeBytes { raw in
                let base = raw.baseAddress! + dataStart + begin
                dtype.scalar.decode(base, count: elements, into: t.data)
            }
            tensors[name] = t
        }
        spans.sort { $0.0 < $1.0 }
        for i in 1..<Swift.max(spans.count, 1) where spans[i].0 < spans[i - 1].1 {
            throw bad("entries '\(spans[i - 1].2)' and '\(spans[i].2)' overlap")
        }
        return (tensors, metadata)
    }

    /// The bytes of a safetensors file holding `tensors` (F32, or F16/BF16), keys sorted,
    /// header padded with spaces to a multiple of 8 bytes.
    public static func encode(_ tensors: [String: Tensor], metadata: [String: String] = [:], dtype: DType = .f32) -> Data {
        precondition(dtype != .i64, "SafeTensors.encode: write floats as F32, F16 or BF16")
        let names = tensors.keys.sorted()
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for name in names {
            let t = tensors[name]!
            let bytes = t.count * dtype.size
            header[name] = ["dtype": dtype.rawValue, "shape": t.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        var headerData = (try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])) ?? Data("{}".utf8)
        while headerData.count % 8 != 0 { headerData.append(0x20) }
        var out = Data(capacity: 8 + headerData.count + offset)
        var n = UInt64(headerData.count).littleEndian
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        out.append(headerData)
        for name in names {
            let t = tensors[name]!
            switch dtype {
            case .f32:
                out.append(UnsafeBufferPointer(start: t.data, count: t.count))
            case .f16:
                var half = [UInt16](repeating: 0, count: t.count)
                for i in 0..<t.count { half[i] = Float16(t.data[i]).bitPattern.littleEndian }
                half.withUnsafeBytes { out.append(contentsOf: $0) }
            case .bf16:
                var b = [UInt16](repeating: 0, count: t.count)
                for i in 0..<t.count {
                    // Round to nearest even, as PyTorch's float -> bfloat16.
                    let bits = t.data[i].bitPattern
                    let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
                    b[i] = t.data[i].isNaN ? 0x7FC0 : UInt16(rounded >> 16).littleEndian
                }
                b.withUnsafeBytes { out.append(contentsOf: $0) }
            case .i64:
                break
            }
        }
        return out
    }

    /// Writes a safetensors file atomically (temporary file, then rename).
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], dtype: DType = .f32, to path: String) throws {
        try writeAtomically(encode(tensors, metadata: metadata, dtype: dtype), to: path)
    }

    /// Writes `data` atomically (`AtomicFile`): a failed write (disk full, file size limit)
    /// leaves `path` as it was and throws `.unwritable` with the failing call and the system's
    /// reason ("write: File too large").
    public static func writeAtomically(_ data: Data, to path: String) throws {
        do {
            try data.withUnsafeBytes { try AtomicFile.write($0, to: path) }
        } catch let e as AtomicWriteError {
            throw SafeTensorsError.unwritable(path: path, reason: "\(e.call): \(e.reason)")
        }
    }
}
