import Base
import Foundation
import Model
import NN
import Tensor

/// The model families the tools know, by name. A new family is one line here; no tool names one.
public enum ModelFamilies {
    public static let all: [any DetectorConfig.Type] = [DETRConfig.self, ConditionalDETRConfig.self, Mask2FormerConfig.self]

    public static var names: [String] { all.map { $0.family } }

    public static func named(_ name: String) -> (any DetectorConfig.Type)? { all.first { $0.family == name } }

    /// The family whose keys a state dict has.
    public static func recognising(_ keys: Set<String>) -> (any DetectorConfig.Type)? { all.first { $0.recognises(keys) } }
}

/// Errors about model configurations.
public struct ModelConfigError: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
}

/// One family's configuration with its family name: what checkpoints and training options
/// store. Encoded as the family's config object with the family's name under `"model"`
/// (absent in files written before families existed: `detr`). Decoding is tolerant: keys a
/// file lacks take the family's defaults (files written before a setting existed still
/// load); unknown keys are ignored.
public struct ModelConfig: @unchecked Sendable, Equatable, Codable {
    public private(set) var value: any DetectorConfig

    public init(_ value: any DetectorConfig) { self.value = value }

    /// The family's defaults.
    public init(family: String) throws {
        guard let type = ModelFamilies.named(family) else {
            throw ModelConfigError(reason: "unknown model '\(family)' (\(ModelFamilies.names.joined(separator: ", ")))")
        }
        value = type.init()
    }

    public var family: String { type(of: value).family }
    public var numClasses: Int {
        get { value.numClasses }
        set { value.numClasses = newValue }
    }
    public var backboneNorm: BackboneNorm {
        get { value.backboneNorm }
        set { value.backboneNorm = newValue }
    }
    public var backbone: ResNetDepth { value.backbone }
    public var groups: Int { value.groups }
    public func problems() -> [String] { value.problems() }
    public func makeNetwork(using rng: inout SplitMix64) -> any DetectionNetwork { value.makeNetwork(using: &rng) }
    public func makeCriterion() -> SetCriterion { value.makeCriterion() }
    public func makeTrainingCriterion() -> any TrainingCriterion { value.makeTrainingCriterion() }
    public mutating func apply(_ settings: ArchitectureSettings) -> [String] { value.apply(settings) }

    /// A copy with the class count and backbone norm set (what a trainer decides from the data).
    public func with(numClasses: Int, backboneNorm: BackboneNorm) -> ModelConfig {
        var c = self
        c.numClasses = numClasses
        c.backboneNorm = backboneNorm
        return c
    }

    /// The config as a concrete family type, if it is that family.
    public func `as`<C: DetectorConfig>(_ type: C.Type) -> C? { value as? C }

    /// The config's JSON object.
    public func jsonObject() throws -> [String: Any] {
        let data = try JSONEncoder().encode(value)
        return (try JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    }

    /// Decodes a family's config from a JSON object, missing keys from the family's defaults.
    public static func decode(family: String, object: [String: Any]) throws -> ModelConfig {
        let defaults = try ModelConfig(family: family)
        var merged = try defaults.jsonObject()
        for (k, v) in object { merged[k] = v }
        let data = try JSONSerialization.data(withJSONObject: merged)
        let type = type(of: defaults.value)
        return ModelConfig(try decodeConfig(type, data))
    }

    static func decodeConfig<C: DetectorConfig>(_ type: C.Type, _ data: Data) throws -> C {
        try JSONDecoder().decode(C.self, from: data)
    }

    enum Keys: String, CodingKey { case model }

    public init(from decoder: Decoder) throws {
        guard case let .object(fields) = try JSONValue(from: decoder) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "the model config is not an object"))
        }
        var object = fields.mapValues { $0.any }
        let family = (object.removeValue(forKey: "model") as? String) ?? DETRConfig.family
        do {
            self = try Self.decode(family: family, object: object)
        } catch let e as ModelConfigError {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: e.reason))
        }
    }

    public func encode(to encoder: Encoder) throws {
        try value.encode(to: encoder)
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(family, forKey: .model)
    }

    public static func == (a: ModelConfig, b: ModelConfig) -> Bool {
        guard a.family == b.family, let x = try? JSONEncoder.sorted.encode(a.value), let y = try? JSONEncoder.sorted.encode(b.value) else {
            return false
        }
        return x == y
    }
}

extension JSONEncoder {
    static var sorted: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }
}

/// Any JSON value, for reading an object whose fields depend on one of its keys.
enum JSONValue: Decodable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: Decoder) throws {
        if let c = try? decoder.container(keyedBy: AnyKey.self) {
            var out: [String: JSONValue] = [:]
            for k in c.allKeys { out[k.stringValue] = try c.decode(JSONValue.self, forKey: k) }
            self = .object(out)
        } else if var c = try? decoder.unkeyedContainer() {
            var out: [JSONValue] = []
            while !c.isAtEnd { out.append(try c.decode(JSONValue.self)) }
            self = .array(out)
        } else {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { self = .null }
            else if let v = try? c.decode(Bool.self) { self = .bool(v) }
            else if let v = try? c.decode(Double.self) { self = .number(v) }
            else { self = .string(try c.decode(String.self)) }
        }
    }

    /// As JSONSerialization represents it.
    var any: Any {
        switch self {
        case .null: return NSNull()
        case let .bool(v): return v
        case let .number(v): return v
        case let .string(v): return v
        case let .array(v): return v.map(\.any)
        case let .object(v): return v.mapValues(\.any)
        }
    }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { return nil }
    }
}
