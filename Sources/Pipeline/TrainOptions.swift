import Augment
import Foundation
import Model

/// Everything a training run is set up from: the data, the network, the two phases of the
/// reference train.py (backbone frozen, then everything), the optimizer and schedule, and
/// where the logs go. Defaults are the reference's constants; `detr-train` maps its flags
/// onto this struct and nothing else reads the command line.
public struct TrainOptions: Codable, Equatable, Sendable {
    // Data.
    /// Annotation-lines files (`2007_train.txt`, `2007_val.txt`).
    public var trainList: String?
    public var valList: String?
    /// COCO instances input instead of lines (with the image folders).
    public var cocoTrain: String?
    public var cocoTrainImages: String?
    public var cocoVal: String?
    public var cocoValImages: String?
    public var classNames: [String] = []

    // Network.
    public var config = ModelConfig(DETRConfig())
    /// Shorter side (detr preset) or square side (reference preset) of the input.
    public var inputSize = 800
    /// The transforms preset (its training side in training, its validation side in evaluation).
    public var preset = Preset.detr
    /// A full checkpoint (folder, .safetensors or .pth) to start from; tensors of another shape
    /// (the class head of another class count) stay freshly initialised.
    public var weights: String?
    /// Backbone weights (torchvision ResNet keys, or already prefixed `backbone.0.body.`).
    public var backboneWeights: String?

    // Schedule (epochs are counted from 0; `epochs` is the last epoch, exclusive).
    public var initEpoch = 0
    /// Epochs with a frozen backbone (only with pretrained weights).
    public var freezeEpochs = 50
    public var freezeBatch = 8
    public var epochs = 300
    public var batch = 4
    public var freezeTrain = true
    public var lr: Float = 1e-4
    public var minLr: Float = 1e-6
    public var backboneLrRatio: Float = 0.1
    public var optimizer = OptimizerKind.adamw
    public var momentum: Float = 0.9
    public var weightDecay: Float = 1e-4
    /// `cos` (warm-up, cosine, floor), `step` or `constant`.
    public var schedule = LRScheduleKind.cosine
    public var clip: Float = 0.1

    // Running.
    public var workers = 2
    public var seed: UInt64 = 0
    public var threads: Int?
    public var savePeriod = 10
    public var saveDir = "logs"
    public var evalPeriod = 10
    /// Skip list samples whose image is missing or unreadable (counted) instead of stopping.
    public var skipBadImages = true
    /// Stop before an epoch that would not end within this many seconds of the start.
    public var timeLimit: Double?

    public init() {}

    /// The options as string pairs for `state.json` (the resume record).
    public func encodedJSON() throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try enc.encode(self)
    }

    /// Problems with the settings, one message each.
    public func problems() -> [String] {
        var out = config.problems()
        if config.value is any MaskClassifierConfig {
            out.append("\(config.family) classifies masks: detr-train trains box models only (its losses are the library's)")
        }
        if trainList == nil && cocoTrain == nil { out.append("no training data: give a lines file or --coco") }
        if cocoTrain != nil && cocoTrainImages == nil { out.append("--coco needs --images") }
        if inputSize < 32 { out.append("input size \(inputSize) is below 32") }
        if batch < 1 || freezeBatch < 1 { out.append("batch sizes must be at least 1") }
        if epochs < 1 { out.append("epochs must be at least 1") }
        if initEpoch < 0 || initEpoch >= epochs { out.append("init epoch \(initEpoch) must be in 0..<\(epochs)") }
        if !(lr > 0) || !(minLr >= 0) || minLr > lr { out.append("need 0 <= min lr <= lr and lr > 0") }
        if !(clip >= 0) { out.append("clip must be >= 0 (0: off)") }
        if savePeriod < 1 || evalPeriod < 1 { out.append("save and eval periods must be at least 1") }
        if workers < 0 { out.append("workers must be >= 0") }
        return out
    }
}
