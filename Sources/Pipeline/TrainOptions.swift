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
    /// COCO panoptic input instead (PNG + JSON; images in `cocoTrainImages` / `cocoValImages`;
    /// segment PNG folders found beside the JSON unless given).
    public var panopticTrain: String?
    public var panopticTrainSegments: String?
    public var panopticVal: String?
    public var panopticValSegments: String?
    /// Train on the data's masks (DETR's segmentation head; lines of a VOC devkit read its
    /// SegmentationObject PNGs, COCO instances their segmentations). Mask classifiers always do.
    public var masks: Bool {
        get { trainMasks ?? false }
        set { trainMasks = newValue }
    }
    /// `masks` as stored (absent in options written before masks trained).
    var trainMasks: Bool?
    /// The task a mask model trains for: instance masks, panoptic segments (COCO panoptic data)
    /// or semantic regions (a VOC devkit's SegmentationClass PNGs). nil: instance, or panoptic
    /// for panoptic data.
    public var task: SegmentationTask?
    /// Panoptic data: the thing classes (ids); the others are stuff (set from the categories).
    public var thingClasses: [Int]?

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

    /// Whether samples carry masks (a mask model trains).
    public var trainsMasks: Bool {
        masks || config.value is any MaskClassifierConfig || (config.as(DETRConfig.self)?.maskHead ?? false)
    }

    /// Whether DETR's part of the network is frozen: DETR's segmentation head trains on a
    /// checkpoint (`masks` with `weights`: the box model first, then its mask head, as the
    /// official `--frozen_weights`); the class and box losses are still computed and logged.
    public var freezesDETR: Bool { masks && weights != nil && config.as(DETRConfig.self) != nil }

    /// The task trained: the given one, else panoptic for panoptic data, else instance (nil for box models).
    public var effectiveTask: SegmentationTask? {
        guard trainsMasks else { return nil }
        return task ?? (panopticTrain != nil ? .panoptic : .instance)
    }

    /// The options as string pairs for `state.json` (the resume record).
    public func encodedJSON() throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try enc.encode(self)
    }

    /// Problems with the settings, one message each.
    public func problems() -> [String] {
        var out = config.problems()
        if trainList == nil && cocoTrain == nil && panopticTrain == nil {
            out.append("no training data: give a lines file, --coco or --coco-panoptic")
        }
        if cocoTrain != nil && cocoTrainImages == nil { out.append("--coco needs --images") }
        if panopticTrain != nil && cocoTrainImages == nil { out.append("--coco-panoptic needs --images") }
        let classifier = config.value is any MaskClassifierConfig
        if masks && !classifier && config.as(DETRConfig.self) == nil {
            out.append("--masks trains DETR's segmentation head (--model detr) or a mask classifier (--model mask2former), not \(config.family)")
        }
        if let task {
            if !trainsMasks { out.append("--task \(task.rawValue) needs a mask model (--model mask2former, or detr with --masks)") }
            if task == .semantic && !classifier { out.append("--task semantic trains a mask classifier (--model mask2former)") }
            if task == .panoptic && panopticTrain == nil { out.append("--task panoptic trains on COCO panoptic data (--coco-panoptic)") }
            if task == .semantic && trainList == nil { out.append("--task semantic trains on a VOC devkit's lines file (its SegmentationClass PNGs)") }
        }
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
