import ArgumentParser
import Pipeline

/// The two phases of the reference train.py (backbone frozen, then everything), the optimizer
/// and the learning-rate schedule.
struct OptimizationOptions: ParsableArguments {
    @Option(help: "Epochs with the backbone frozen (only with pretrained weights).")
    var freezeEpochs: Int = 50
    @Option(help: "Batch size of the freeze phase.")
    var freezeBatch: Int = 8
    @Option(help: "Batch size of the unfreeze phase.")
    var batch: Int = 4
    @Option(help: "Epoch to start the schedule at (continuing an earlier run's schedule).")
    var initEpoch: Int = 0
    @Flag(help: "No freeze phase even with pretrained weights.")
    var noFreeze = false

    @Option(help: "Learning rate of the transformer and heads.")
    var lr: Float = 1e-4
    @Option(help: "Floor of the schedule.")
    var minLr: Float = 1e-6
    @Option(help: "Backbone learning rate as a fraction of --lr.")
    var backboneLrRatio: Float = 0.1
    @Option(help: "adamw or sgd.")
    var optimizer: OptimizerKind = .adamw
    @Option(help: "SGD momentum.")
    var momentum: Float = 0.9
    @Option(help: "Weight decay.")
    var weightDecay: Float = 1e-4
    @Option(help: "Learning-rate schedule per epoch: cos (warm-up, cosine decay to --min-lr), step (10 steps to --min-lr) or constant.")
    var schedule: LRScheduleKind = .cosine
    @Option(help: "Gradient clipping max norm (0: off).")
    var clip: Float = 0.1

    /// Sets the phase, optimizer and schedule fields of `o`.
    func apply(to o: inout TrainOptions) {
        o.initEpoch = initEpoch
        o.freezeEpochs = freezeEpochs
        o.freezeBatch = freezeBatch
        o.batch = batch
        o.freezeTrain = !noFreeze
        o.lr = lr
        o.minLr = minLr
        o.backboneLrRatio = backboneLrRatio
        o.optimizer = optimizer
        o.momentum = momentum
        o.weightDecay = weightDecay
        o.schedule = schedule
        o.clip = clip
    }
}
