import Foundation

/// What happened in one epoch.
public struct EpochRecord: Sendable {
    public var epoch: Int
    public var trainLoss: Double
    public var valLoss: Double?
    /// Mean of the last-layer loss terms over the epoch, by short name (`ce`, `bbox`, `giou`).
    public var terms: [String: Double]
    /// The terms' names in the criterion's order.
    public var termNames: [String] = []
    public var learningRate: Float
    /// The whole epoch: training, validation loss and evaluation.
    public var seconds: Double
    /// Training steps only (what images/s is measured on).
    public var trainSeconds: Double = 0
    /// Seconds since the run (or its resumption) started, at the end of this epoch.
    public var elapsed: Double = 0
    public var images: Int
    public var skipped: Int
    /// The validation metric's values in epochs with an evaluation (`metric.names`): COCO AP at
    /// IoU 0.5 and AP 0.5:0.95 for boxes or masks, PQ and SQ, or mIoU alone.
    public var ap50: Double?
    public var map: Double?
    /// What `ap50` and `map` measure.
    public var metric: ValidationMetric = .boxAP
    public var savedBest: Bool
}

extension EpochRecord {
    /// One line of `epochs.jsonl`: the epoch (1-based), seconds since the start, training
    /// images per second, losses, the last layer's loss terms and the validation AP.
    public func jsonLine() throws -> String {
        var object: [String: Any] = [
            "epoch": epoch + 1, "elapsed_s": (elapsed * 1000).rounded() / 1000, "epoch_s": (seconds * 1000).rounded() / 1000,
            "images": images, "images_per_s": (Double(images) / max(trainSeconds, 1e-9) * 100).rounded() / 100,
            "train_loss": trainLoss, "lr": Double(learningRate),
            "terms": terms,
        ]
        if let valLoss { object["val_loss"] = valLoss }
        let keys = metric.keys
        if let ap50 { object[keys[0]] = ap50 }
        if let map, keys.count > 1 { object[keys[1]] = map }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
}

/// Callbacks of a run (all optional): notes, per-iteration progress and epoch summaries.
public struct TrainReporter {
    public var note: (String) -> Void
    public var progress: (_ epoch: Int, _ iteration: Int, _ iterations: Int, _ status: String) -> Void
    public var epochEnded: (EpochRecord) -> Void

    public init(note: @escaping (String) -> Void = { _ in },
                progress: @escaping (Int, Int, Int, String) -> Void = { _, _, _, _ in },
                epochEnded: @escaping (EpochRecord) -> Void = { _ in }) {
        self.note = note
        self.progress = progress
        self.epochEnded = epochEnded
    }
}

/// The outcome of `Trainer.run`.
public struct TrainResult: Sendable {
    public var runDirectory: String
    public var records: [EpochRecord]
    /// Why the run ended before its last epoch (time limit), if it did.
    public var stoppedEarly: String?
}
