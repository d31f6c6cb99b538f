import Foundation
import Tensor

/// A checkpoint folder: `model.safetensors`, `optimizer.safetensors` and `state.json`
/// (epoch, config, class names...). Written atomically: the new folder is completed under a
/// temporary name and then swapped in, so an interrupted save leaves the previous one intact.
public enum Checkpoint {
    public static let modelFile = "model.safetensors"
    public static let optimizerFile = "optimizer.safetensors"
    public static let stateFile = "state.json"

    public static func save(to folder: String, model: [String: Tensor], optimizer: [String: Tensor]?, state: Data) throws {
        let fm = FileManager.default
        let url = URL(fileURLWithPath: folder)
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        let old = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).old-\(getpid())")
        do {
            try? fm.removeItem(at: tmp)
            try fm.createDirectory(at: tmp, withIntermediateDirectories: true)
            try SafeTensors.write(model, to: tmp.appendingPathComponent(modelFile).path)
            if let optimizer { try SafeTensors.write(optimizer, to: tmp.appendingPathComponent(optimizerFile).path) }
            try SafeTensors.writeAtomically(state, to: tmp.appendingPathComponent(stateFile).path)
            if fm.fileExists(atPath: url.path) {
                // One atomic swap of the two folders (Linux renameat2 RENAME_EXCHANGE): a kill at
                // any moment leaves either the old or the new checkpoint under the name. Where the
                // file system cannot swap, two renames (a kill between them leaves the old one
                // under `.<name>.old-<pid>`).
                if renameExchange(tmp.path, url.path) {
                    try? fm.removeItem(at: tmp)
                } else {
                    try? fm.removeItem(at: old)
                    try fm.moveItem(at: url, to: old)
                    try fm.moveItem(at: tmp, to: url)
                    try? fm.removeItem(at: old)
                }
            } else {
                try fm.moveItem(at: tmp, to: url)
            }
        } catch let SafeTensorsError.unwritable(path, reason) {
            // Name the checkpoint's file, not the temporary folder (which is removed).
            try? fm.removeItem(at: tmp)
            let file = URL(fileURLWithPath: path).lastPathComponent
            throw SafeTensorsError.unwritable(path: url.appendingPathComponent(file).path,
                                              reason: "\(reason); \(folder) was left as it was")
        } catch let e as SafeTensorsError {
            try? fm.removeItem(at: tmp)
            throw e
        } catch {
            try? fm.removeItem(at: tmp)
            throw SafeTensorsError.unwritable(path: folder, reason: (error as NSError).localizedDescription)
        }
    }

    /// Swaps two paths atomically; false when the system cannot (then nothing changed).
    public static func renameExchange(_ a: String, _ b: String) -> Bool {
        #if os(Linux)
        let atFDCWD: Int32 = -100, renameExchangeFlag: UInt32 = 2
        return c_renameat2(atFDCWD, a, atFDCWD, b, renameExchangeFlag) == 0
        #else
        return false
        #endif
    }

    /// Reads a checkpoint folder (the optimizer file is optional).
    public static func load(from folder: String) throws -> (model: [String: Tensor], optimizer: [String: Tensor]?, state: Data) {
        let url = URL(fileURLWithPath: folder)
        let model = try TensorFile.readStateDict(url.appendingPathComponent(modelFile).path)
        let optPath = url.appendingPathComponent(optimizerFile).path
        let optimizer = FileManager.default.fileExists(atPath: optPath) ? try TensorFile.readStateDict(optPath) : nil
        let statePath = url.appendingPathComponent(stateFile)
        guard let state = try? Data(contentsOf: statePath) else {
            throw SafeTensorsError.unreadable(path: statePath.path, reason: "missing or unreadable")
        }
        return (model, optimizer, state)
    }
}

#if os(Linux)
/// glibc's renameat2 (not exported by the Glibc module).
@_silgen_name("renameat2")
private func c_renameat2(_ oldDirFD: Int32, _ oldPath: UnsafePointer<CChar>, _ newDirFD: Int32,
                         _ newPath: UnsafePointer<CChar>, _ flags: UInt32) -> Int32
#endif
