/// A value of the restricted unpickler: data only. Nothing in a pickle is ever looked up or
/// called; a global is kept as its name, and a call of a global the reader does not know is kept
/// as an inert record of that name (see `PickleContainer.object`).
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer beyond 64 bits (LONG1 / LONG4): its little-endian two's-complement bytes.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    /// A container in the unpickler's `PickleHeap`: pickles share containers by reference (memo)
    /// and fill them after creating them, so containers live in one table, referenced by index.
    case ref(Int)
    /// A global `module.name` as the pickle spells it; never imported.
    case global(String)
    /// A PyTorch storage named by a persistent id.
    case storage(TorchStorageRef)
    /// A tensor rebuilt by `torch._utils._rebuild_tensor_v2`: a view of a storage.
    case tensor(TorchTensorRef)
}

/// The containers of a pickle. Objects are inert records: `known` is true for the types the
/// reader accepts as data (`argparse.Namespace`), false for calls of any other global, which
/// are never executed and make a state dict that reaches them an error naming the global.
enum PickleContainer {
    case list([PickleValue])
    case tuple([PickleValue])
    case dict([(key: PickleValue, value: PickleValue)])
    case set([PickleValue])
    case object(type: String, known: Bool, args: [PickleValue], state: PickleValue?)
    /// A placeholder while the heap modifies a container in place.
    case none
}

/// The containers a pickle created, by index.
final class PickleHeap {
    private(set) var items: [PickleContainer] = []

    func add(_ c: PickleContainer) -> PickleValue {
        items.append(c)
        return .ref(items.count - 1)
    }

    subscript(_ i: Int) -> PickleContainer {
        get { items[i] }
        set { items[i] = newValue }
    }

    /// Modifies container `i` in place (it is moved out meanwhile, so arrays grow without copies).
    func modify(_ i: Int, _ body: (inout PickleContainer) throws -> Void) rethrows {
        var c = items[i]
        items[i] = .none
        defer { items[i] = c }
        try body(&c)
    }

    func container(_ v: PickleValue) -> PickleContainer? {
        if case let .ref(i) = v { return items[i] }
        return nil
    }

    /// The items of a tuple (or list), or nil.
    func sequence(_ v: PickleValue) -> [PickleValue]? {
        switch container(v) {
        case let .tuple(xs)?, let .list(xs)?: return xs
        default: return nil
        }
    }

    /// The entries of a dict, or nil.
    func dict(_ v: PickleValue) -> [(key: PickleValue, value: PickleValue)]? {
        if case let .dict(e)? = container(v) { return e }
        return nil
    }

    /// The value under string key `key` of a dict (the last one, as Python keeps).
    func lookup(_ v: PickleValue, _ key: String) -> PickleValue? {
        dict(v)?.last { if case let .string(k) = $0.key { return k == key } else { return false } }?.value
    }

    /// A short description for error messages: the kind of value, and for a refused call the
    /// global's name.
    func describe(_ v: PickleValue) -> String {
        switch v {
        case .none: return "None"
        case .bool: return "a bool"
        case .int, .bigInt: return "an int"
        case .float: return "a float"
        case .string: return "a string"
        case .bytes: return "bytes"
        case let .global(name): return "the global '\(name)'"
        case .storage: return "a bare storage"
        case .tensor: return "a tensor"
        case let .ref(i):
            switch items[i] {
            case .list: return "a list"
            case let .tuple(xs): return "a \(xs.count)-tuple"
            case .dict: return "a dict"
            case .set: return "a set"
            case .none: return "None"
            case let .object(type, known, _, _):
                return known ? "a \(type)" : "a call of unknown global '\(type)' (refused, never executed)"
            }
        }
    }
}

/// Why a pickle could not be read as data; the file reader adds the path.
enum PickleError: Error, CustomStringConvertible {
    case truncated(at: Int)
    case unsupportedOpcode(code: UInt8, name: String, at: Int)
    case malformed(String, at: Int)
    case invalid(String)
    case badPersistentID(String)
    case refused(String)

    var description: String {
        switch self {
        case let .truncated(at): return "truncated pickle (ends inside the opcode at byte \(at))"
        case let .unsupportedOpcode(code, name, at):
            return "pickle opcode \(name) (0x\(String(code, radix: 16))) at byte \(at) is not supported by the restricted reader"
        case let .malformed(what, at): return "malformed pickle at byte \(at): \(what)"
        case let .invalid(what): return "malformed pickle: \(what)"
        case let .badPersistentID(what): return "bad persistent id: \(what)"
        case let .refused(what): return what
        }
    }
}
