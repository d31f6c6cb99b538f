import Tensor

/// Where the bytes of a file's storages are.
protocol TorchStorageSource {
    /// Calls `body` with the bytes of `ref` (exactly `count * scalar.size` of them).
    func withStorage<R>(_ ref: TorchStorageRef, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R
}

/// The storages a pickle's persistent ids named, by key (one key, one type and count).
final class TorchStorageTable {
    private(set) var refs: [String: TorchStorageRef] = [:]

    /// The persistent-id hook of the unpickler.
    func load(_ pid: PickleValue, heap: PickleHeap) throws -> PickleValue {
        let ref = try TorchGlobals.storage(fromPersistentID: pid, heap: heap)
        if let old = refs[ref.key], old != ref {
            throw PickleError.badPersistentID("storage '\(ref.key)' named twice with different types or sizes")
        }
        refs[ref.key] = ref
        return .storage(ref)
    }
}

/// The state dict inside an unpickled checkpoint, and its tensors read as Float32.
enum TorchStateDict {
    /// The wrapper entries that hold the model's state dict in training checkpoints
    /// (`{"model": state_dict, "optimizer": ..., "args": Namespace, "epoch": N}`).
    static let wrapperKeys = ["model", "state_dict"]

    /// The (key, tensor) entries of the state dict: the top-level dict itself, or its "model"
    /// (else "state_dict") entry. Everything else in the file was parsed as data and is ignored.
    static func entries(_ root: PickleValue, heap: PickleHeap) throws -> [(String, TorchTensorRef)] {
        guard let top = heap.dict(root) else {
            throw PickleError.refused("the file holds \(heap.describe(root)), not a state dict")
        }
        var entries = top, place = "the top-level dict"
        if let key = wrapperKeys.first(where: { heap.lookup(root, $0) != nil }), let inner = heap.lookup(root, key) {
            guard let d = heap.dict(inner) else { throw PickleError.refused("its '\(key)' entry is \(heap.describe(inner)), not a state dict") }
            entries = d
            place = "'\(key)'"
        }
        guard !entries.isEmpty else { throw PickleError.refused("\(place) is empty: no tensors") }
        return try entries.map { e in
            guard case let .string(k) = e.key else { throw PickleError.refused("\(place) has a key that is \(heap.describe(e.key)), not a string") }
            guard case let .tensor(t) = e.value else { throw PickleError.refused("entry '\(k)' of \(place) is \(heap.describe(e.value)), not a tensor") }
            return (k, t)
        }
    }

    /// Every entry's tensor, contiguous Float32.
    static func tensors(_ entries: [(String, TorchTensorRef)], from source: some TorchStorageSource) throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (k, t) in entries {
            out[k] = try source.withStorage(t.storage) { materialise(t, bytes: $0) }
        }
        return out
    }

    /// The view `t` of a storage's bytes as a contiguous tensor (the source checked the byte count,
    /// `TorchGlobals.rebuildTensor` that the view stays inside the storage).
    static func materialise(_ t: TorchTensorRef, bytes: UnsafeRawBufferPointer) -> Tensor {
        let out = Tensor.empty(t.shape)
        let n = t.shape.reduce(1, *), scalar = t.storage.scalar
        guard n > 0, let base = bytes.baseAddress else { return out }
        if t.isContiguous {
            scalar.decode(base + t.offset * scalar.size, count: n, into: out.data)
            return out
        }
        // An odometer over the view's indices; `src` follows the storage element.
        let rank = t.shape.count
        var index = [Int](repeating: 0, count: rank)
        var src = t.offset
        for i in 0..<n {
            out.data[i] = scalar.load(base, src)
            var d = rank - 1
            while d >= 0 {
                index[d] += 1
                src += t.strides[d]
                if index[d] < t.shape[d] { break }
                src -= t.strides[d] * t.shape[d]
                index[d] = 0
                d -= 1
            }
        }
        return out
    }
}
