/// A storage of a PyTorch file, as its persistent id names it: the key of its bytes (a zip
/// entry `data/<key>`, or a record after the legacy pickle), the element type and the count.
struct TorchStorageRef: Equatable {
    let key: String
    let scalar: StoredScalar
    let count: Int
}

/// A tensor as `_rebuild_tensor_v2` describes it: a strided view of a storage. The view was
/// checked to stay inside the storage when it was made.
struct TorchTensorRef: Equatable {
    let storage: TorchStorageRef
    let offset: Int
    let shape: [Int]
    let strides: [Int]

    var isContiguous: Bool {
        var expected = 1
        for (d, s) in zip(shape, strides).reversed() where d != 1 {
            guard s == expected else { return false }
            expected *= d
        }
        return true
    }
}

/// The globals the restricted unpickler gives meaning to, and what the calls of others become.
/// Accepted: `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2` (and
/// `_rebuild_tensor`, `_rebuild_parameter`, `_rebuild_parameter_with_state`), the storage types
/// of `storageTypes` (as persistent-id arguments), `argparse.Namespace` (an inert record). A call
/// of any other global is recorded by name as an unknown object; it is never executed, and a
/// state dict that reaches it is refused naming it.
enum TorchGlobals {
    /// `torch.<Name>Storage` (and `torch.cuda.<Name>Storage` of checkpoints saved on a GPU).
    static let storageTypes: [String: StoredScalar] = [
        "FloatStorage": .f32, "HalfStorage": .f16, "BFloat16Storage": .bf16, "DoubleStorage": .f64,
        "LongStorage": .i64, "IntStorage": .i32, "ShortStorage": .i16, "CharStorage": .i8,
        "ByteStorage": .u8, "BoolStorage": .bool,
    ]

    static func storageScalar(_ global: String) -> StoredScalar? {
        for prefix in ["torch.cuda.", "torch."] where global.hasPrefix(prefix) {
            let name = String(global.dropFirst(prefix.count))
            if let s = storageTypes[name] { return s }
        }
        return nil
    }

    /// REDUCE: `callable(*args)`.
    static func call(_ callable: PickleValue, args: PickleValue, heap: PickleHeap) throws -> PickleValue {
        guard case let .global(name) = callable else {
            throw PickleError.invalid("REDUCE of \(heap.describe(callable)), not a global")
        }
        guard let xs = heap.sequence(args) else { throw PickleError.invalid("REDUCE of '\(name)' with \(heap.describe(args)) as arguments") }
        switch name {
        case "collections.OrderedDict":
            guard xs.isEmpty else { throw PickleError.refused("collections.OrderedDict called with \(xs.count) arguments (only OrderedDict() is read)") }
            return heap.add(.dict([]))
        case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor":
            return .tensor(try rebuildTensor(xs, heap: heap))
        case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
            guard let data = xs.first, case .tensor = data else {
                throw PickleError.refused("\(name) of something other than a tensor")
            }
            return data
        default:
            return heap.add(.object(type: name, known: false, args: xs, state: nil))
        }
    }

    /// NEWOBJ: `cls.__new__(cls, *args)`; `argparse.Namespace` is kept as data.
    static func newObject(_ cls: PickleValue, args: PickleValue, heap: PickleHeap) throws -> PickleValue {
        guard case let .global(name) = cls else { throw PickleError.invalid("NEWOBJ of \(heap.describe(cls))") }
        let xs = heap.sequence(args) ?? []
        if name == "collections.OrderedDict" { return heap.add(.dict([])) }
        return heap.add(.object(type: name, known: name == "argparse.Namespace", args: xs, state: nil))
    }

    /// BUILD: `obj.__setstate__(state)`. A dict's attributes (a state dict's `_metadata`) are
    /// dropped; an object keeps its state as data.
    static func build(_ obj: PickleValue, state: PickleValue, heap: PickleHeap) throws {
        guard case let .ref(i) = obj else {
            if case .tensor = obj { return }  // a tensor's Python attributes
            throw PickleError.invalid("BUILD on \(heap.describe(obj))")
        }
        try heap.modify(i) { c in
            switch c {
            case .dict: break
            case let .object(type, known, args, _): c = .object(type: type, known: known, args: args, state: state)
            default: throw PickleError.invalid("BUILD on \(heap.describe(obj))")
            }
        }
    }

    /// Elements a view may have beyond its storage's (an expanded view, stride 0): 64 MB of Float32.
    static let maxExpandedElements = 1 << 24

    /// `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])`;
    /// only the first four matter. The view must lie inside the storage, and may hold more
    /// elements than the storage (stride 0) only up to `maxExpandedElements`.
    static func rebuildTensor(_ xs: [PickleValue], heap: PickleHeap) throws -> TorchTensorRef {
        guard xs.count >= 4, case let .storage(storage) = xs[0], case let .int(offset) = xs[1],
              let size = heap.sequence(xs[2]), let stride = heap.sequence(xs[3]) else {
            throw PickleError.refused("_rebuild_tensor_v2 with arguments other than (storage, offset, size, stride, ...)")
        }
        let shape = try ints(size, "size"), strides = try ints(stride, "stride")
        guard shape.count == strides.count, offset >= 0 else {
            throw PickleError.refused("tensor view with size \(shape), stride \(strides), offset \(offset)")
        }
        var elements = 1, last = offset
        for (d, s) in zip(shape, strides) {
            let (e, o1) = elements.multipliedReportingOverflow(by: d)
            guard !o1, e < 1 << 40 else { throw PickleError.refused("tensor of implausible size \(shape)") }
            elements = e
            if d > 0 {
                let (reach, o2) = (d - 1).multipliedReportingOverflow(by: s)
                let (l, o3) = last.addingReportingOverflow(reach)
                guard !o2, !o3 else { throw PickleError.refused("tensor view with implausible strides \(strides)") }
                last = l
            }
        }
        guard elements == 0 || last < storage.count else {
            throw PickleError.refused("tensor view (offset \(offset), size \(shape), stride \(strides)) reaches element \(last) of a storage of \(storage.count)")
        }
        guard elements <= Swift.max(storage.count, maxExpandedElements) else {
            throw PickleError.refused("tensor view of size \(shape) expands a storage of \(storage.count) elements beyond \(maxExpandedElements)")
        }
        return TorchTensorRef(storage: storage, offset: offset, shape: shape, strides: strides)
    }

    private static func ints(_ xs: [PickleValue], _ what: String) throws -> [Int] {
        try xs.map {
            guard case let .int(v) = $0, v >= 0 else { throw PickleError.refused("tensor \(what) holds a negative or non-integer value") }
            return v
        }
    }

    /// A storage persistent id: `('storage', torch.<T>Storage, key, location, count)` (zip
    /// format) with a sixth item, the view metadata, in the legacy format (None since torch 0.4).
    static func storage(fromPersistentID pid: PickleValue, heap: PickleHeap) throws -> TorchStorageRef {
        guard let xs = heap.sequence(pid), xs.count == 5 || xs.count == 6 else {
            throw PickleError.badPersistentID("\(heap.describe(pid)) (a 5- or 6-tuple ('storage', type, key, location, count) expected)")
        }
        guard case .string("storage") = xs[0] else { throw PickleError.badPersistentID("its first item is \(heap.describe(xs[0])), not 'storage'") }
        guard case let .global(type) = xs[1] else { throw PickleError.badPersistentID("its storage type is \(heap.describe(xs[1]))") }
        guard let scalar = storageScalar(type) else {
            throw PickleError.refused("unsupported storage type '\(type)' (read: \(storageTypes.keys.sorted().joined(separator: ", ")))")
        }
        let key: String
        switch xs[2] {
        case let .string(s): key = s
        case let .int(i): key = String(i)
        default: throw PickleError.badPersistentID("its key is \(heap.describe(xs[2]))")
        }
        guard case let .int(count) = xs[4], count >= 0, count < 1 << 40 else {
            throw PickleError.badPersistentID("storage '\(key)' has \(heap.describe(xs[4])) as its element count")
        }
        if xs.count == 6, case .none = xs[5] {} else if xs.count == 6 {
            throw PickleError.refused("storage '\(key)' is a view of another storage (files of torch before 0.4 are not read)")
        }
        return TorchStorageRef(key: key, scalar: scalar, count: count)
    }
}
