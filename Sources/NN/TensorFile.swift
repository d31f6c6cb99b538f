import Foundation
import Tensor

/// A file of named tensors in any format the toolkit reads, recognised by its first bytes, not
/// its name: safetensors, or a PyTorch checkpoint (`.pth` / `.pt`, zip or legacy format).
public enum TensorFile {
    public enum Format: Sendable, Equatable {
        case safetensors
        case pytorch(PyTorchCheckpoint.Format)
    }

    /// The format of `data`, or nil. A safetensors file starts with its header length (8 bytes)
    /// and the header's opening brace.
    public static func format(of data: Data) -> Format? {
        if let f = PyTorchCheckpoint.format(of: data) { return .pytorch(f) }
        if data.count >= 9, data[data.startIndex + 8] == UInt8(ascii: "{") { return .safetensors }
        return nil
    }

    /// The state dict in the file at `path`: every tensor of a safetensors file, or the state
    /// dict of a PyTorch checkpoint (`PyTorchCheckpoint.readStateDict`), as Float32.
    public static func readStateDict(_ path: String) throws -> [String: Tensor] {
        let data = try contents(path)
        switch format(of: data) {
        case .safetensors?: return try SafeTensors.parse(data, path: path).tensors
        case .pytorch?: return try PyTorchCheckpoint.readStateDict(data, path: path)
        case nil:
            throw SafeTensorsError.malformed(path: path, reason: "neither a safetensors file nor a PyTorch checkpoint (.pth, zip or legacy format)")
        }
    }

    /// The bytes of `path`, memory-mapped where possible.
    static func contents(_ path: String) throws -> Data {
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
        } catch {
            throw SafeTensorsError.unreadable(path: path, reason: (error as NSError).localizedDescription)
        }
    }
}
