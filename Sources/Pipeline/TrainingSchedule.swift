import Foundation
import NN

/// The per-epoch plan of a run, as the reference train.py has it: the learning rate of each
/// epoch (its get_lr_scheduler over `epochs`) and the freeze phase that pretrained weights
/// start with (backbone frozen, batches of `freezeBatch`), then everything at `batch`.
public struct TrainingSchedule: Sendable, Equatable {
    /// The learning rate per epoch.
    public let rates: LRSchedule
    /// Epochs with the backbone frozen: the options' with pretrained weights and `freezeTrain`, else 0.
    public let freezeEpochs: Int
    public let freezeBatch: Int
    public let batch: Int

    /// The plan of `options`; `pretrained` says whether the run starts from pretrained weights
    /// (only then is there a freeze phase).
    public init(options: TrainOptions, pretrained: Bool) {
        rates = Self.rates(options)
        freezeEpochs = options.freezeTrain && pretrained ? options.freezeEpochs : 0
        freezeBatch = options.freezeBatch
        batch = options.batch
    }

    /// The options' schedule over `epochs` (reference get_lr_scheduler): `cos` warms up over 5%
    /// of the epochs (1 to 3) from a tenth of the rate and holds the floor over the last 5% (1
    /// to 15); `step` reaches `minLr` in 10 steps.
    static func rates(_ options: TrainOptions) -> LRSchedule {
        let n = options.epochs, lr = options.lr
        switch options.schedule {
        case .step:
            let steps = 10
            let gamma = Foundation.pow(options.minLr / lr, 1 / Float(steps - 1))
            return .step(base: lr, stepSize: max(1, n / steps), gamma: gamma)
        case .constant:
            return .multiStep(base: lr, milestones: [], gamma: 1)
        case .cosine:
            let warmup = min(max(Int(0.05 * Double(n)), 1), 3)
            let noAug = min(max(Int(0.05 * Double(n)), 1), 15)
            return .cosine(base: lr, minLR: options.minLr, totalIters: n, warmupIters: warmup,
                           warmupStartLR: max(0.1 * lr, 1e-6), noAugIters: noAug)
        }
    }

    /// The learning rate of an epoch.
    public func learningRate(epoch: Int) -> Float { rates.rate(at: epoch) }

    /// Whether the backbone is frozen in an epoch.
    public func inFreezePhase(_ epoch: Int) -> Bool { epoch < freezeEpochs }

    /// The batch size of an epoch: `freezeBatch` in the freeze phase, `batch` after it.
    public func batchSize(epoch: Int) -> Int { inFreezePhase(epoch) ? freezeBatch : batch }
}
