/// A dotted PyTorch state-dict key (`backbone.0.body.layer1.0.conv1.weight`), built by
/// appending components as a module visits its children.
public struct ParameterKey: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public private(set) var components: [String]

    public init(_ components: [String] = []) {
        self.components = components.flatMap { $0.split(separator: ".").map(String.init) }
    }

    public init(stringLiteral value: String) {
        self.init([value])
    }

    /// This key with one more component (a child module's name or a list index).
    public func appending(_ component: String) -> ParameterKey {
        ParameterKey(components + [component])
    }

    public func appending(_ index: Int) -> ParameterKey {
        appending(String(index))
    }

    /// True when `prefix`'s components start this key (for freezing by prefix:
    /// `backbone.0` matches `backbone.0.body.conv1.weight` but not `backbone.01.x`).
    public func hasPrefix(_ prefix: ParameterKey) -> Bool {
        components.count >= prefix.components.count && Array(components.prefix(prefix.components.count)) == prefix.components
    }

    public var description: String { components.joined(separator: ".") }
}
