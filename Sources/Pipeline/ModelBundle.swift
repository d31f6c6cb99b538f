import Augment
import Base
import Datasets
import Foundation
import Model
import NN
import Tensor

/// What `state.json` of a checkpoint holds besides the tensors: enough to rebuild the network
/// and its input pipeline, and to continue training.
public struct CheckpointState: Codable, Equatable, Sendable {
    public static let currentFormat = "detrkit-checkpoint-1"
    public var format = CheckpointState.currentFormat
    /// Epochs completed when the checkpoint was written.
    public var epoch: Int
    /// Optimizer steps taken.
    public var step: Int
    /// The model family's name (`detr`, `conditional-detr`), written for readers of the file;
    /// absent in checkpoints written before families existed (DETR). The config holds it too.
    public var model: String?
    /// The family and its configuration.
    public var config: ModelConfig
    /// Class names in id order (ids 0..C-1; C = `config.numClasses`).
    public var classNames: [String]
    /// Only in checkpoints written before families existed: DETR with the mask head (now the
    /// DETR config's `maskHead`).
    var segmentation: Bool?
    /// Inference input: the shorter side (DETR preset) or the square side (reference preset).
    public var inputSize: Int
    /// The transforms preset the network was trained with (its validation side is the inference input).
    public var preset: Preset
    public var trainLoss: Double?
    public var valLoss: Double?
    public var bestValLoss: Double?
    /// The training options of the run, kept for `--resume`.
    public var training: TrainOptions?
    /// The run folder (`logs/<timestamp>`) the checkpoint belongs to.
    public var runDirectory: String?

    public init(epoch: Int = 0, step: Int = 0, config: ModelConfig, classNames: [String], inputSize: Int = 800, preset: Preset = .detr) {
        self.epoch = epoch
        self.step = step
        self.model = config.family
        self.config = config
        self.classNames = classNames
        self.inputSize = inputSize
        self.preset = preset
    }

    /// Whether the network has a mask head.
    public var hasMaskHead: Bool { config.as(DETRConfig.self)?.maskHead ?? false }

    /// What is inconsistent in the state (an invalid config, class names that do not match the
    /// class count), a message each.
    public func problems() -> [String] {
        var out = config.problems()
        if classNames.count != config.numClasses {
            out.append("\(classNames.count) class names for \(config.numClasses) classes")
        }
        return out
    }

    /// Decodes `state.json` bytes; errors name `path` and what is wrong.
    public static func decode(_ data: Data, path: String) throws -> CheckpointState {
        var state: CheckpointState
        do {
            state = try JSONDecoder().decode(CheckpointState.self, from: data)
        } catch {
            throw ModelFileError.badState(path: path, reason: ModelBundle.describe(error))
        }
        if let model = state.model, model != state.config.family {
            throw ModelFileError.badState(path: path, reason: "model '\(model)' but a '\(state.config.family)' config")
        }
        // Checkpoints from before families: the mask head was a flag beside the config.
        if state.segmentation == true {
            func withMaskHead(_ config: ModelConfig) -> ModelConfig {
                guard var c = config.as(DETRConfig.self) else { return config }
                c.maskHead = true
                return ModelConfig(c)
            }
            state.config = withMaskHead(state.config)
            if let training = state.training { state.training?.config = withMaskHead(training.config) }
        }
        state.segmentation = nil
        state.model = state.config.family
        return state
    }

    /// Reads `<folder>/state.json`.
    public static func read(folder: String) throws -> CheckpointState {
        let path = (folder as NSString).appendingPathComponent(Checkpoint.stateFile)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelFileError.badState(path: path, reason: "missing or unreadable")
        }
        return try decode(data, path: path)
    }

    public func encoded() throws -> Data {
        var out = self
        out.model = config.family
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try enc.encode(out)
    }
}

/// Errors about model files: each names the file.
public enum ModelFileError: Error, CustomStringConvertible, Equatable {
    case notFound(path: String)
    case badState(path: String, reason: String)
    case needsClasses(path: String)
    case classMismatch(path: String, checkpoint: Int, given: Int)
    case incompatible(path: String, reason: String)

    public var description: String {
        switch self {
        case let .notFound(path):
            return "\(path): no such checkpoint folder or weights file (.safetensors, .pth)"
        case let .badState(path, reason):
            return "\(path): invalid checkpoint state: \(reason)"
        case let .needsClasses(path):
            return "\(path): a bare weights file (.safetensors, .pth) carries no class names; pass --classes FILE or --num-classes N"
        case let .classMismatch(path, checkpoint, given):
            return "\(path): the checkpoint has \(checkpoint) classes but \(given) were given"
        case let .incompatible(path, reason):
            return "\(path): \(reason)"
        }
    }
}

/// A network with its class names and input settings, loaded from a checkpoint folder
/// (`model.safetensors` + `state.json`) or from a bare state dict: a `.safetensors` file or a
/// PyTorch checkpoint such as the official repositories' `.pth` files (`TensorFile`).
public final class ModelBundle {
    public let network: any DetectionNetwork
    public var state: CheckpointState
    /// The file or folder it came from.
    public let source: String

    public var config: ModelConfig { state.config }
    public var classNames: [String] { state.classNames }

    public init(network: any DetectionNetwork, state: CheckpointState, source: String = "") {
        self.network = network
        self.state = state
        self.source = source
    }

    /// Builds a freshly initialised network of any family (the configuration must be valid:
    /// `problems()` empty).
    public static func fresh(config: ModelConfig, classNames: [String], inputSize: Int = 800, preset: Preset = .detr,
                             seed: UInt64) -> ModelBundle {
        var rng = SplitMix64(seed: seed)
        let net = config.makeNetwork(using: &rng)
        return ModelBundle(network: net, state: CheckpointState(config: config, classNames: classNames, inputSize: inputSize, preset: preset))
    }

    public static func fresh(config: any DetectorConfig, classNames: [String], inputSize: Int = 800, preset: Preset = .detr,
                             seed: UInt64) -> ModelBundle {
        fresh(config: ModelConfig(config), classNames: classNames, inputSize: inputSize, preset: preset, seed: seed)
    }

    /// Loads `path`: a checkpoint folder, or a state-dict file (safetensors or `.pth`, told apart
    /// by their bytes) with `classNames` (from
    /// `--classes`) or `numClasses` (names `class0`...). A folder's own class names win; given
    /// names must then agree in number. `overrides` adjusts what a bare file cannot tell
    /// (attention heads, dilation, input size).
    public static func load(_ path: String, classNames given: [String]? = nil, numClasses: Int? = nil,
                            heads: Int? = nil, inputSize: Int? = nil, preset: Preset? = nil) throws -> ModelBundle {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw ModelFileError.notFound(path: path) }
        let tensors: [String: Tensor]
        var state: CheckpointState
        if isDir.boolValue {
            let statePath = (path as NSString).appendingPathComponent(Checkpoint.stateFile)
            let modelPath = (path as NSString).appendingPathComponent(Checkpoint.modelFile)
            guard FileManager.default.fileExists(atPath: modelPath) else {
                throw ModelFileError.incompatible(path: path, reason: "not a checkpoint folder (no \(Checkpoint.modelFile))")
            }
            state = try CheckpointState.read(folder: path)
            if let problem = state.problems().first { throw ModelFileError.badState(path: statePath, reason: problem) }
            if let given, given.count != state.config.numClasses {
                throw ModelFileError.classMismatch(path: path, checkpoint: state.config.numClasses, given: given.count)
            }
            if let numClasses, numClasses != state.config.numClasses {
                throw ModelFileError.classMismatch(path: path, checkpoint: state.config.numClasses, given: numClasses)
            }
            tensors = try SafeTensors.read(modelPath).tensors
        } else {
            tensors = try TensorFile.readStateDict(path)
            var config = try inferConfig(tensors, path: path, numClasses: given?.count ?? numClasses)
            if let heads {
                var settings = ArchitectureSettings()
                settings.heads = heads
                _ = config.apply(settings)
            }
            let count = config.numClasses
            if let given, given.count != count { throw ModelFileError.classMismatch(path: path, checkpoint: count, given: given.count) }
            if let numClasses, numClasses != count { throw ModelFileError.classMismatch(path: path, checkpoint: count, given: numClasses) }
            guard given != nil || numClasses != nil else { throw ModelFileError.needsClasses(path: path) }
            let names = given ?? (0..<count).map { "class\($0)" }
            state = CheckpointState(config: config, classNames: names)
        }
        if let problem = state.config.problems().first {
            throw ModelFileError.incompatible(path: path, reason: problem)
        }
        if let inputSize { state.inputSize = inputSize }
        if let preset { state.preset = preset }
        var rng = SplitMix64(seed: 0)
        let net = state.config.makeNetwork(using: &rng)
        var strictTensors = tensors
        // Official checkpoints carry no BN batch counters; ours may. Either loads.
        if state.config.backboneNorm == .frozen { strictTensors = strictTensors.filter { !$0.key.hasSuffix("num_batches_tracked") } }
        if let mismatch = try net.load(strictTensors, strict: true) {
            throw ModelFileError.incompatible(path: path, reason: "weights do not fit the network: \(mismatch)")
        }
        return ModelBundle(network: net, state: state, source: path)
    }

    /// Writes a checkpoint folder (atomically), with optional optimizer state.
    public func save(to folder: String, optimizer: [String: Tensor]? = nil) throws {
        try Checkpoint.save(to: folder, model: network.stateDict(), optimizer: optimizer, state: try state.encoded())
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case let DecodingError.keyNotFound(key, ctx):
            return "missing key \((ctx.codingPath + [key]).map(\.stringValue).joined(separator: "."))"
        case let DecodingError.typeMismatch(_, ctx), let DecodingError.valueNotFound(_, ctx):
            return "wrong type at \(ctx.codingPath.map(\.stringValue).joined(separator: ".")): \(ctx.debugDescription)"
        case let DecodingError.dataCorrupted(ctx) where ctx.codingPath.isEmpty:
            return "malformed JSON: \(ctx.debugDescription)"
        case let DecodingError.dataCorrupted(ctx):
            // A value that does not parse (an unknown preset, optimizer, schedule or model): where, and what.
            return "\(ctx.codingPath.map(\.stringValue).joined(separator: ".")): \(ctx.debugDescription)"
        default:
            return "\(error)"
        }
    }

    /// The family and architecture a bare state dict implies (see each family's `inferred`):
    /// classes and width from the heads, queries, layer counts, feed-forward width, backbone.
    /// Heads and dilation cannot be read from shapes (8, false); query groups neither (a bare
    /// file runs all its queries).
    public static func inferConfig(_ tensors: [String: Tensor], path: String, numClasses: Int? = nil) throws -> ModelConfig {
        guard let family = ModelFamilies.recognising(Set(tensors.keys)) else {
            throw ModelFileError.incompatible(path: path, reason: "not a state dict of a known model (\(ModelFamilies.names.joined(separator: ", ")))")
        }
        do {
            return ModelConfig(try family.inferred(from: tensors.mapValues(\.shape), numClasses: numClasses))
        } catch {
            throw ModelFileError.incompatible(path: path, reason: "not a \(family.family) state dict: \(error)")
        }
    }
}
