import Base
import Tensor

/// Whether a state entry is trained (a parameter) or only carried (a buffer such as
/// BatchNorm's running statistics).
public enum StateKind: Sendable {
    case parameter, buffer
}

/// Mode and randomness passed down the forward pass: no global "training" flag.
public struct ForwardContext {
    public var training: Bool
    public var rng: SplitMix64
    /// The global index of the batch's first sample: dropout draws each sample's mask from the
    /// sample's own generator, so a process of a data-parallel run that holds samples
    /// `sampleOffset...` draws the masks a single process would draw for them.
    public var sampleOffset: Int

    public init(training: Bool, rng: SplitMix64 = SplitMix64(seed: 0), sampleOffset: Int = 0) {
        self.training = training
        self.rng = rng
        self.sampleOffset = sampleOffset
    }

    /// Inference: no dropout, batch norm uses running statistics.
    public static var inference: ForwardContext { ForwardContext(training: false) }
}

/// A layer or model whose parameters and buffers have PyTorch state-dict keys.
///
/// Types declare their entries explicitly in `visit`, children with their attribute names
/// (`body.layer1.0.conv1`), so that keys equal the official checkpoints' without reflection.
public protocol Module: AnyObject {
    /// Calls `body` for every parameter and buffer, with its full key under `prefix`.
    func visit(_ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void)
}

/// Errors of loading state.
public enum StateError: Error, CustomStringConvertible, Equatable {
    /// Strict loading found missing, unexpected or mis-shaped keys (every one listed).
    case mismatch(missing: [String], unexpected: [String], misshaped: [String])

    public var description: String {
        switch self {
        case let .mismatch(missing, unexpected, misshaped):
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing keys (\(missing.count)): " + missing.joined(separator: ", ")) }
            if !unexpected.isEmpty { parts.append("unexpected keys (\(unexpected.count)): " + unexpected.joined(separator: ", ")) }
            if !misshaped.isEmpty { parts.append("mis-shaped keys (\(misshaped.count)): " + misshaped.joined(separator: ", ")) }
            return "state dict does not match the model: " + parts.joined(separator: "; ")
        }
    }
}

extension Module {
    /// Every entry with its dotted key, in declaration order.
    public func namedState(kind: StateKind? = nil) -> [(key: String, tensor: Tensor)] {
        var out: [(String, Tensor)] = []
        visit(ParameterKey()) { key, t, k in
            if kind == nil || kind == k { out.append((key.description, t)) }
        }
        return out
    }

    /// The trainable parameters (requiresGrad) with their keys.
    public func namedParameters() -> [(key: String, tensor: Tensor)] {
        namedState(kind: .parameter).filter { $0.tensor.requiresGrad }
    }

    public func parameters() -> [Tensor] { namedParameters().map { $0.tensor } }

    /// Key -> tensor of every parameter and buffer (PyTorch's state_dict).
    public func stateDict() -> [String: Tensor] {
        Dictionary(namedState().map { ($0.key, $0.tensor) }, uniquingKeysWith: { a, _ in a })
    }

    /// Copies values by key. Strict (default): any missing, unexpected or mis-shaped key is
    /// an error listing all of them, and nothing is changed. Non-strict: loads what matches
    /// and returns the keys it skipped as the error's lists (without throwing).
    @discardableResult
    public func load(_ state: [String: Tensor], strict: Bool = true) throws -> StateError? {
        let own = namedState()
        var missing: [String] = [], misshaped: [String] = []
        let ownKeys = Set(own.map { $0.key })
        for (key, t) in own {
            guard let src = state[key] else {
                missing.append(key)
                continue
            }
            if src.shape != t.shape { misshaped.append("\(key) (model \(t.shape), file \(src.shape))") }
        }
        let unexpected = state.keys.filter { !ownKeys.contains($0) }.sorted()
        let problem = missing.isEmpty && unexpected.isEmpty && misshaped.isEmpty
            ? nil : StateError.mismatch(missing: missing, unexpected: unexpected, misshaped: misshaped)
        if strict, let problem { throw problem }
        for (key, t) in own {
            if let src = state[key], src.shape == t.shape { t.assign(src) }
        }
        return problem
    }

    /// Stops training every parameter whose key starts with one of the prefixes (whole
    /// components: `backbone.0` freezes `backbone.0.body...`, not `backbone.01`).
    public func freeze(prefixes: [String]) {
        let ps = prefixes.map { ParameterKey($0.isEmpty ? [] : [$0]) }
        visit(ParameterKey()) { key, t, kind in
            if kind == .parameter, ps.contains(where: { key.hasPrefix($0) }) { t.requiresGrad = false }
        }
    }

    /// Trains every parameter again (the reverse of `freeze`).
    public func unfreeze(prefixes: [String] = [""]) {
        let ps = prefixes.map { ParameterKey($0.isEmpty ? [] : [$0]) }
        visit(ParameterKey()) { key, t, kind in
            if kind == .parameter, ps.contains(where: { key.hasPrefix($0) }) { t.requiresGrad = true }
        }
    }

    /// Total number of elements of the trainable parameters.
    public var parameterCount: Int { parameters().map { $0.count }.reduce(0, +) }
}

/// Visits a child module under `name`.
@inline(__always)
public func visitChild(_ child: Module?, _ name: String, _ prefix: ParameterKey, _ body: (ParameterKey, Tensor, StateKind) -> Void) {
    child?.visit(prefix.appending(name), body)
}
