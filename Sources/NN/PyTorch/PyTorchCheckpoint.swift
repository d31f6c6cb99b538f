import Foundation
import Tensor

/// Errors reading a PyTorch checkpoint; each names the file.
public enum TorchFileError: Error, CustomStringConvertible, Equatable {
    case malformed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .malformed(p, r): return "\(p): cannot read as a PyTorch checkpoint: \(r)"
        }
    }
}

/// PyTorch checkpoints (`torch.save`), read without Python and without executing anything:
/// the zip format of torch >= 1.6 (`<folder>/data.pkl` and one entry `<folder>/data/<key>` per
/// storage, whatever the folder's name) and the legacy format before it (pickles of the magic
/// number, the protocol version and the system info, the pickled object, the list of storage
/// keys, then each storage as an element count and its bytes). The pickle is read by a
/// restricted unpickler (`Unpickler`, `TorchGlobals`): data, state dicts, tensors and
/// argparse.Namespace only. Storages of float32, float16, bfloat16, float64 and the integer and
/// bool types are read as Float32; views (offset, strides) of shared storages are copied out.
public enum PyTorchCheckpoint {
    public enum Format: Sendable, Equatable { case zip, legacy }

    /// torch's legacy magic number 0x1950a86a20f9469cfc6c, little-endian.
    static let legacyMagic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]
    static let legacyProtocolVersion = 1001

    /// The format the first bytes announce, or nil.
    public static func format(of data: Data) -> Format? {
        let head = [UInt8](data.prefix(14))
        if head.count >= 4, head[0] == 0x50, head[1] == 0x4B, (head[2], head[3]) == (3, 4) || (head[2], head[3]) == (5, 6) { return .zip }
        // PROTO n, LONG1 of 10 bytes: the magic number.
        if head.count == 14, head[0] == 0x80, (2...5).contains(head[1]), head[2] == 0x8A, head[3] == 10,
           Array(head[4..<14]) == legacyMagic { return .legacy }
        return nil
    }

    /// The state dict of a checkpoint held in `data`: the top-level dict when its values are
    /// tensors, else its "model" (or "state_dict") entry, as in the official DETR and
    /// Conditional DETR checkpoints (`{"model": ..., "optimizer": ..., "args": Namespace, "epoch": N}`).
    /// The rest is parsed as data and ignored: a call of an unknown global there is recorded, not
    /// executed; one inside the state dict, an unsupported opcode anywhere, a truncated file or a
    /// bad persistent id is an error naming `path` and the problem.
    public static func readStateDict(_ data: Data, path: String) throws -> [String: Tensor] {
        guard let format = format(of: data) else {
            throw TorchFileError.malformed(path: path, reason: "neither a zip archive nor a legacy torch.save file")
        }
        do {
            return try data.withUnsafeBytes { buf in
                switch format {
                case .zip: return try readZip(buf)
                case .legacy: return try readLegacy(buf)
                }
            }
        } catch let e as PickleError {
            throw TorchFileError.malformed(path: path, reason: e.description)
        } catch let e as ZipError {
            throw TorchFileError.malformed(path: path, reason: e.description)
        }
    }

    /// Reads the file at `path` (memory-mapped).
    public static func readStateDict(_ path: String) throws -> [String: Tensor] {
        try readStateDict(try TensorFile.contents(path), path: path)
    }

    // MARK: zip

    private struct ZipStorages: TorchStorageSource {
        let zip: ZipArchive
        let folder: String

        func withStorage<R>(_ ref: TorchStorageRef, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
            let name = folder + "/data/" + ref.key
            guard let e = zip.entries[name] else { throw PickleError.badPersistentID("storage '\(ref.key)' has no entry \(name)") }
            return try zip.withContents(e) { b in
                guard b.count == ref.count * ref.scalar.size else {
                    throw PickleError.refused("entry \(name) holds \(b.count) bytes; storage '\(ref.key)' needs \(ref.count) x \(ref.scalar.size)")
                }
                return try body(b)
            }
        }
    }

    private static func readZip(_ buf: UnsafeRawBufferPointer) throws -> [String: Tensor] {
        let zip = try ZipArchive(buf)
        let pickles = zip.entries.keys.filter { $0.hasSuffix("/data.pkl") && $0.split(separator: "/", omittingEmptySubsequences: false).count == 2 }
        guard pickles.count == 1, let pkl = pickles.first, let entry = zip.entries[pkl] else {
            throw PickleError.refused(pickles.isEmpty ? "a zip archive without <folder>/data.pkl: not a torch.save file"
                                                      : "a zip archive with \(pickles.count) data.pkl entries")
        }
        let folder = String(pkl.dropLast("/data.pkl".count))
        if let order = zip.entries[folder + "/byteorder"] {
            let text = try zip.withContents(order) { String(decoding: $0, as: UTF8.self) }
            guard text == "little" else { throw PickleError.refused("byte order '\(text)' (only little-endian files are read)") }
        }
        let table = TorchStorageTable()
        let (root, heap) = try zip.withContents(entry) { b -> (PickleValue, PickleHeap) in
            let u = Unpickler(b, persistentLoad: table.load)
            return (try u.load(), u.heap)
        }
        return try TorchStateDict.tensors(try TorchStateDict.entries(root, heap: heap), from: ZipStorages(zip: zip, folder: folder))
    }

    // MARK: legacy

    private struct LegacyStorages: TorchStorageSource {
        let buf: UnsafeRawBufferPointer
        /// Byte offset of each storage's data.
        let offsets: [String: Int]

        func withStorage<R>(_ ref: TorchStorageRef, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
            guard let o = offsets[ref.key] else { throw PickleError.badPersistentID("storage '\(ref.key)' is not in the file's storage list") }
            return try body(UnsafeRawBufferPointer(rebasing: buf[o..<(o + ref.count * ref.scalar.size)]))
        }
    }

    private static func readLegacy(_ buf: UnsafeRawBufferPointer) throws -> [String: Tensor] {
        let magic = Unpickler(buf)
        guard case let .bigInt(m) = try magic.load(), m == legacyMagic else { throw PickleError.refused("no torch magic number") }
        let version = Unpickler(buf, at: magic.pos)
        guard case let .int(v) = try version.load(), v == legacyProtocolVersion else {
            throw PickleError.refused("legacy protocol version is not \(legacyProtocolVersion)")
        }
        let sys = Unpickler(buf, at: version.pos)
        let info = try sys.load()
        if case .bool(false)? = sys.heap.lookup(info, "little_endian") {
            throw PickleError.refused("written on a big-endian machine (only little-endian files are read)")
        }
        let table = TorchStorageTable()
        let main = Unpickler(buf, at: sys.pos, persistentLoad: table.load)
        let root = try main.load()
        let list = Unpickler(buf, at: main.pos)
        let keyList = try list.load()
        guard let keys = list.heap.sequence(keyList) else { throw PickleError.refused("the storage key list is \(list.heap.describe(keyList))") }
        var offsets: [String: Int] = [:]
        var p = list.pos
        for k in keys {
            guard case let .string(key) = k, let ref = table.refs[key] else {
                throw PickleError.badPersistentID("the storage list names \(list.heap.describe(k)) that no persistent id declared")
            }
            guard p + 8 <= buf.count else { throw PickleError.truncated(at: p) }
            var count: UInt64 = 0
            for i in 0..<8 { count |= UInt64(buf[p + i]) << (8 * UInt64(i)) }
            guard count == UInt64(ref.count) else {
                throw PickleError.refused("storage '\(key)' holds \(count) elements where its persistent id says \(ref.count)")
            }
            let bytes = ref.count * ref.scalar.size
            guard bytes <= buf.count - p - 8 else {
                throw PickleError.refused("storage '\(key)' (\(bytes) bytes at \(p + 8)) runs past the end of the \(buf.count) bytes (truncated file)")
            }
            offsets[key] = p + 8
            p += 8 + bytes
        }
        return try TorchStateDict.tensors(try TorchStateDict.entries(root, heap: main.heap), from: LegacyStorages(buf: buf, offsets: offsets))
    }
}
