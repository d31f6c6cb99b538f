import ArgumentParser
import Augment
import NN

/// A setting chosen by name (the transforms preset, the optimizer, the schedule): the name is
/// what `state.json` stores and what the command line gives, parsed once into the enum. An
/// unknown name is an error naming the setting, the name and the known names.
public protocol NamedChoice: CaseIterable, Codable, ExpressibleByArgument, RawRepresentable, Sendable where RawValue == String {
    /// What the setting is called in messages (`preset`, `optimizer`, `schedule`).
    static var settingName: String { get }
}

extension NamedChoice {
    /// The known names in declaration order (`adamw, sgd`).
    public static var knownNames: String { allCases.map(\.rawValue).joined(separator: ", ") }

    public init(from decoder: Decoder) throws {
        let name = try decoder.singleValueContainer().decode(String.self)
        guard let value = Self(rawValue: name) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "unknown \(Self.settingName) '\(name)' (\(Self.knownNames))"))
        }
        self = value
    }
}

/// Augment's transforms presets by their names (`detr`, `reference`, `none`, `flip`).
extension Preset: NamedChoice {
    public static let settingName = "preset"
}

/// The optimizer of a run.
public enum OptimizerKind: String, NamedChoice {
    /// AdamW with bias correction (DETR's).
    case adamw
    /// SGD with momentum.
    case sgd

    public static let settingName = "optimizer"

    /// The optimizer over `groups` (`momentum` for SGD).
    public func make(groups: [ParameterGroup], momentum: Float) -> any Optimizer {
        switch self {
        case .adamw: return AdamW(groups: groups)
        case .sgd: return SGD(groups: groups, momentum: momentum)
        }
    }
}

/// How the learning rate goes from epoch to epoch (the reference train.py's choices; see
/// `TrainingSchedule`).
public enum LRScheduleKind: String, NamedChoice {
    /// Warm-up, cosine decay to the floor, the floor held at the end.
    case cosine = "cos"
    /// Ten steps down to the floor.
    case step
    /// The learning rate throughout.
    case constant

    public static let settingName = "schedule"
}
