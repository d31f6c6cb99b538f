import Foundation
import Tensor

/// A minimal `torch.save` for the tests that need a `.pth` of a network built here (the tiny
/// configs): the legacy format (protocol-2 pickles of the magic number, the protocol version
/// and the system info, then the state dict of `_rebuild_tensor_v2` calls on float32 storages,
/// the storage keys and the storages). The NN tests check the reader against files written by
/// torch itself (scripts/fixtures/pth_reference.py); this writer only feeds the pipeline tests.
public enum TorchSave {
    /// The bytes of a `.pth` holding `tensors`, or `{"model": tensors, "epoch": 3}` when `wrapped`
    /// (the official checkpoints' layout).
    public static func legacy(_ tensors: [String: Tensor], wrapped: Bool = false) -> Data {
        var out = Data()
        let magic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]
        out.append(contentsOf: [0x80, 0x02, 0x8A, 0x0A] + magic + [0x2E])
        out.append(contentsOf: [0x80, 0x02, 0x4D, 0xE9, 0x03, 0x2E])  // 1001
        out.append(contentsOf: [0x80, 0x02, 0x7D, 0x2E])  // {}: no system info needed
        let names = tensors.keys.sorted()
        var p = Pickle()
        p.op(0x80, 0x02)
        p.op(0x7D)  // {
        if wrapped { p.string("model"); p.op(0x7D) }
        p.op(0x28)  // MARK
        for (i, name) in names.enumerated() {
            let t = tensors[name]!
            p.string(name)
            p.global("torch._utils", "_rebuild_tensor_v2")
            p.op(0x28)
            p.op(0x28); p.string("storage"); p.global("torch", "FloatStorage"); p.string(String(i)); p.string("cpu"); p.int(t.count); p.op(0x74, 0x51)
            p.int(0)
            p.op(0x28); t.shape.forEach { p.int($0) }; p.op(0x74)
            p.op(0x28); contiguousStrides(t.shape).forEach { p.int($0) }; p.op(0x74)
            p.op(0x89)  // requires_grad False
            p.global("collections", "OrderedDict"); p.op(0x29, 0x52)
            p.op(0x74, 0x52)  // args tuple, REDUCE
        }
        p.op(0x75)  // SETITEMS
        if wrapped { p.op(0x73); p.string("epoch"); p.int(3); p.op(0x73) }
        p.op(0x2E)
        out.append(contentsOf: p.bytes)
        var keys = Pickle()
        keys.op(0x80, 0x02, 0x5D, 0x28)
        for i in names.indices { keys.string(String(i)) }
        keys.op(0x65, 0x2E)
        out.append(contentsOf: keys.bytes)
        for name in names {
            let t = tensors[name]!
            var n = Int64(t.count).littleEndian
            withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
            for v in t.scalars { var b = v.bitPattern.littleEndian; withUnsafeBytes(of: &b) { out.append(contentsOf: $0) } }
        }
        return out
    }

    private static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        for i in Swift.stride(from: shape.count - 2, through: 0, by: -1) { s[i] = s[i + 1] * shape[i + 1] }
        return s
    }

    private struct Pickle {
        var bytes: [UInt8] = []
        mutating func op(_ codes: UInt8...) { bytes += codes }
        mutating func string(_ s: String) {
            let u = Array(s.utf8)
            op(0x58)
            bytes += withUnsafeBytes(of: UInt32(u.count).littleEndian) { Array($0) } + u
        }
        mutating func int(_ v: Int) {
            op(0x4A)
            bytes += withUnsafeBytes(of: Int32(v).littleEndian) { Array($0) }
        }
        mutating func global(_ module: String, _ name: String) { op(0x63); bytes += Array("\(module)\n\(name)\n".utf8) }
    }
}
