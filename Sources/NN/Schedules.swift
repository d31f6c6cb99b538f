import Foundation

/// Learning-rate schedules: the rate for an iteration or epoch.
public enum LRSchedule: Sendable, Equatable {
    /// lr * gamma^(floor(epoch / stepSize)).
    case step(base: Float, stepSize: Int, gamma: Float)
    /// lr * gamma^(number of milestones <= epoch).
    case multiStep(base: Float, milestones: [Int], gamma: Float)
    /// The reference train.py's "cos" schedule (yolox_warm_cos_lr): a quadratic warm-up from
    /// `warmupStartLR` over `warmupIters`, cosine decay to `minLR`, and the last
    /// `noAugIters` iterations held at `minLR`.
    case cosine(base: Float, minLR: Float, totalIters: Int, warmupIters: Int, warmupStartLR: Float, noAugIters: Int)

    /// The rate at `t` (iteration or epoch, as the schedule was built).
    public func rate(at t: Int) -> Float {
        switch self {
        case let .step(base, stepSize, gamma):
            return base * Foundation.pow(gamma, Float(t / Swift.max(stepSize, 1)))
        case let .multiStep(base, milestones, gamma):
            return base * Foundation.pow(gamma, Float(milestones.filter { $0 <= t }.count))
        case let .cosine(base, minLR, total, warmup, start, noAug):
            let it = Float(t)
            if t <= warmup && warmup > 0 {
                return (base - start) * Foundation.pow(it / Float(warmup), 2) + start
            }
            if t >= total - noAug { return minLR }
            let span = Float(Swift.max(total - warmup - noAug, 1))
            return minLR + 0.5 * (base - minLR) * (1 + Foundation.cos(Float.pi * (it - Float(warmup)) / span))
        }
    }
}
