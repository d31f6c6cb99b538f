import Datasets
import Foundation
import NN
import Tensor

/// A checkpoint folder a run continues from (`logs/last`): its weights, optimizer state and
/// `state.json`, checked to hold what a resume needs (the training options, the optimizer).
struct ResumeCheckpoint {
    let path: String
    let state: CheckpointState
    let model: [String: Tensor]
    let optimizer: [String: Tensor]
    /// The options the run was written with.
    let options: TrainOptions

    /// Reads `path`; every failure is a `TrainError.resume` naming it.
    init(_ path: String) throws {
        let loaded: (model: [String: Tensor], optimizer: [String: Tensor]?, state: Data)
        do { loaded = try Checkpoint.load(from: path) } catch { throw TrainError.resume(path: path, reason: "\(error)") }
        let state: CheckpointState
        do { state = try CheckpointState.decode(loaded.state, path: FileIO.join(path, Checkpoint.stateFile)) } catch {
            throw TrainError.resume(path: path, reason: "\(error)")
        }
        guard let options = state.training else { throw TrainError.resume(path: path, reason: "state.json has no training options") }
        guard let optimizer = loaded.optimizer else { throw TrainError.resume(path: path, reason: "no \(Checkpoint.optimizerFile)") }
        self.path = path
        self.state = state
        model = loaded.model
        self.optimizer = optimizer
        self.options = options
    }

    /// The training options a checkpoint of a run was written with (its `state.json` only).
    static func storedOptions(_ checkpoint: String) throws -> TrainOptions {
        let state: CheckpointState
        do { state = try CheckpointState.read(folder: checkpoint) } catch {
            throw TrainError.resume(path: checkpoint, reason: "\(error)")
        }
        guard let t = state.training else { throw TrainError.resume(path: checkpoint, reason: "state.json has no training options") }
        return t
    }

    /// Loads the checkpoint's weights into `bundle` (strictly: they must fit).
    func loadWeights(into bundle: ModelBundle) throws {
        if let mismatch = try bundle.network.load(model, strict: true) {
            throw TrainError.resume(path: path, reason: "weights do not fit: \(mismatch)")
        }
    }

    /// Loads the optimizer state into `optimizer`.
    func loadOptimizer(into optimizer: any Optimizer) throws {
        do { try optimizer.loadState(self.optimizer) } catch { throw TrainError.resume(path: path, reason: "\(error)") }
    }
}

/// Pretrained weights a fresh run starts from: a whole checkpoint (what fits), or ResNet
/// weights for the backbone; a folder, or a safetensors or PyTorch `.pth` file (`TensorFile`).
enum PretrainedWeights {
    /// Loads the tensors of a checkpoint whose names and shapes fit; the rest (a class head
    /// for another class count, say) keeps its fresh initialisation, as the reference does.
    /// A box model's checkpoint (keys without `detr.`) loads into DETR with the segmentation
    /// head as its `detr.*` part (`X` -> `detr.X`, the official `model.detr.load_state_dict`).
    /// `requiring`: every tensor under this key prefix must be loaded (a part that is frozen
    /// afterwards cannot stay freshly initialised), else an error naming the file and the keys.
    static func loadMatching(_ path: String, into bundle: ModelBundle, requiring prefix: String? = nil,
                             note: (String) -> Void) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw ModelFileError.notFound(path: path) }
        let file = isDir.boolValue ? FileIO.join(path, Checkpoint.modelFile) : path
        let tensors = try TensorFile.readStateDict(file)
        var state = bundle.network.stateDict()
        // A box model's keys into the segmentation model: its tensors are the `detr.` part.
        let boxIntoSegmentation = bundle.state.hasMaskHead && !tensors.keys.contains { $0.hasPrefix("detr.") }
        func source(_ key: String) -> Tensor? {
            if boxIntoSegmentation { return key.hasPrefix("detr.") ? tensors[String(key.dropFirst(5))] : nil }
            return tensors[key]
        }
        var loaded = 0
        var skipped: [String] = []
        for (k, t) in state {
            if let src = source(k), src.shape == t.shape {
                state[k] = src
                loaded += 1
            } else if !k.hasSuffix("num_batches_tracked") {
                skipped.append(k)
            }
        }
        guard loaded > 0 else { throw ModelFileError.incompatible(path: path, reason: "no tensor fits this network") }
        if let prefix {
            let missing = skipped.filter { $0.hasPrefix(prefix) }.sorted()
            if !missing.isEmpty {
                let shown = missing.prefix(4).map { k in
                    source(k).map { "\(k) (shape \($0.shape), the network's \(state[k]!.shape))" } ?? "\(k) (missing)"
                }
                throw ModelFileError.incompatible(path: path, reason: "\(missing.count) tensor(s) of the \(prefix)* part do not fit, "
                    + "which is frozen and must come from the checkpoint (the same architecture flags and classes as its run): "
                    + shown.joined(separator: ", ") + (missing.count > 4 ? ", ..." : ""))
            }
        }
        _ = try bundle.network.load(state, strict: true)
        let how = boxIntoSegmentation ? " (a box model's, as the detr.* part of the segmentation model)" : ""
        note("\(path): loaded \(loaded) tensors\(how)" + (skipped.isEmpty ? "" :
            "; \(skipped.count) kept freshly initialised (missing or another shape: \(skipped.sorted().prefix(4).joined(separator: ", "))\(skipped.count > 4 ? ", ..." : ""))"))
    }

    /// Loads ResNet weights (torchvision keys `conv1.weight`, `layer1.0...`, already prefixed
    /// `backbone.0.body.`, or the network's own names) into the backbone; every backbone tensor
    /// must be there. The network's name of each backbone tensor (DETR's `backbone.0.body.*`,
    /// Mask2Former's detectron2 names) is found by identity from its torchvision name.
    static func loadBackbone(_ path: String, into bundle: ModelBundle, note: (String) -> Void) throws {
        let tensors = try TensorFile.readStateDict(path)
        var networkKey: [ObjectIdentifier: String] = [:]
        for (k, t) in bundle.network.namedState() { networkKey[ObjectIdentifier(t)] = k }
        var state = bundle.network.stateDict()
        var count = 0
        for (short, t) in bundle.network.resnetBackbone.namedState() where !short.hasSuffix("num_batches_tracked") {
            guard let k = networkKey[ObjectIdentifier(t)] else { continue }
            guard let src = tensors[k] ?? tensors[short] ?? tensors["backbone.0.body." + short] else {
                throw TrainError.backboneWeights(path: path, reason: "missing \(short) (or \(k))")
            }
            guard src.shape == t.shape else {
                throw TrainError.backboneWeights(path: path, reason: "\(short) has shape \(src.shape), the backbone needs \(t.shape)")
            }
            state[k] = src
            count += 1
        }
        _ = try bundle.network.load(state, strict: true)
        note("\(path): loaded \(count) backbone tensors")
    }
}
