import Foundation
import Tensor

/// A set of parameters with its own learning rate and weight decay (PyTorch's param group).
public struct ParameterGroup {
    public var parameters: [Tensor]
    public var learningRate: Float
    public var weightDecay: Float
    /// Multiplier of the schedule's base rate (the backbone group uses 0.1).
    public var lrScale: Float

    public init(parameters: [Tensor], learningRate: Float, weightDecay: Float = 0, lrScale: Float = 1) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        self.lrScale = lrScale
    }
}

/// Optimizers update parameters in place from their `grad`, one parameter at a time with
/// per-parameter state; `state` exposes that state for checkpoints.
public protocol Optimizer: AnyObject {
    var groups: [ParameterGroup] { get set }
    func step()
    /// Per-parameter state tensors by name (`<group>.<index>.<slot>`) and the step count.
    func stateTensors() -> [String: Tensor]
    func loadState(_ state: [String: Tensor]) throws
}

extension Optimizer {
    /// Clears every parameter's gradient.
    public func zeroGrad() {
        for g in groups { for p in g.parameters { p.grad = nil } }
    }

    /// Sets each group's rate to `base * lrScale`.
    public func setLearningRate(_ base: Float) {
        for i in groups.indices { groups[i].learningRate = base * groups[i].lrScale }
    }
}

public enum OptimizerStateError: Error, CustomStringConvertible {
    case missing(String)
    case shape(String, expected: [Int], found: [Int])

    public var description: String {
        switch self {
        case let .missing(k): return "optimizer state: missing '\(k)'"
        case let .shape(k, e, f): return "optimizer state: '\(k)' has shape \(f), expected \(e)"
        }
    }
}

/// AdamW with PyTorch's semantics: decoupled weight decay (p -= lr * wd * p), bias-corrected
/// moments, eps added to the corrected square root, and a step count per parameter that only
/// advances when the parameter has a gradient (a backbone unfrozen after a freeze phase starts
/// its bias correction then, as in PyTorch).
public final class AdamW: Optimizer {
    public var groups: [ParameterGroup]
    public let beta1: Float, beta2: Float, eps: Float
    /// Calls of `step()`.
    public private(set) var stepCount = 0
    var m: [[Tensor]]
    var v: [[Tensor]]
    /// Steps per parameter (those with a gradient).
    var steps: [[Int]]

    public init(groups: [ParameterGroup], beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8) {
        self.groups = groups
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        m = groups.map { $0.parameters.map { Tensor.zeros($0.shape) } }
        v = groups.map { $0.parameters.map { Tensor.zeros($0.shape) } }
        steps = groups.map { $0.parameters.map { _ in 0 } }
    }

    public func step() {
        stepCount += 1
        let b1 = beta1, b2 = beta2, e = eps
        for (gi, group) in groups.enumerated() {
            let lr = group.learningRate, wd = group.weightDecay
            for (pi, p) in group.parameters.enumerated() {
                guard let g = p.grad else { continue }
                steps[gi][pi] += 1
                let t = Float(steps[gi][pi])
                let bc1 = 1 - Foundation.pow(beta1, t), bc2 = 1 - Foundation.pow(beta2, t)
                let pp = p.data, pg = g.data, pm = m[gi][pi].data, pv = v[gi][pi].data
                let stepSize = lr / bc1
                let bc2Sqrt = bc2.squareRoot()
                Threads.parallelFor(p.count, costPerItem: 8) { r in
                    // Eight lanes at a time (the scalar loop did not vectorise: the compiler
                    // cannot tell that the four arrays do not overlap), the same operations in
                    // the same order per element, so the results are those of the scalar tail.
                    var i = r.lowerBound
                    let decay = 1 - lr * wd
                    while i + 8 <= r.upperBound {
                        let gv = UnsafeRawPointer(pg + i).loadUnaligned(as: SIMD8<Float>.self)
                        var pv8 = UnsafeRawPointer(pp + i).loadUnaligned(as: SIMD8<Float>.self)
                        var mv = UnsafeRawPointer(pm + i).loadUnaligned(as: SIMD8<Float>.self)
                        var vv = UnsafeRawPointer(pv + i).loadUnaligned(as: SIMD8<Float>.self)
                        pv8 *= decay
                        mv = b1 * mv + (1 - b1) * gv
                        vv = b2 * vv + (1 - b2) * gv * gv
                        let denom = vv.squareRoot() / bc2Sqrt + e
                        pv8 -= stepSize * mv / denom
                        UnsafeMutableRawPointer(pp + i).storeBytes(of: pv8, as: SIMD8<Float>.self)
                        UnsafeMutableRawPointer(pm + i).storeBytes(of: mv, as: SIMD8<Float>.self)
                        UnsafeMutableRawPointer(pv + i).storeBytes(of: vv, as: SIMD8<Float>.self)
                        i += 8
                    }
                    while i < r.upperBound {
                        pp[i] *= decay
                        pm[i] = b1 * pm[i] + (1 - b1) * pg[i]
                        pv[i] = b2 * pv[i] + (1 - b2) * pg[i] * pg[i]
                        let denom = pv[i].squareRoot() / bc2Sqrt + e
                        pp[i] -= stepSize * pm[i] / denom
                        i += 1
                    }
                }
            }
        }
    }

    /// `step` (calls of step()), and per parameter `<group>.<index>.exp_avg`, `.exp_avg_sq` and
    /// `.step`.
    public func stateTensors() -> [String: Tensor] {
        var out: [String: Tensor] = ["step": Tensor(scalar: Float(stepCount))]
        for (gi, g) in groups.enumerated() {
            for pi in g.parameters.indices {
                out["\(gi).\(pi).exp_avg"] = m[gi][pi]
                out["\(gi).\(pi).exp_avg_sq"] = v[gi][pi]
                out["\(gi).\(pi).step"] = Tensor(scalar: Float(steps[gi][pi]))
            }
        }
        return out
    }

    /// Loads `stateTensors()`' output. State written before per-parameter step counts existed
    /// (no `.step` keys) gives every parameter the global count, as it was then used.
    public func loadState(_ state: [String: Tensor]) throws {
        guard let s = state["step"] else { throw OptimizerStateError.missing("step") }
        var loadedSteps = steps
        for (gi, g) in groups.enumerated() {
            for (pi, p) in g.parameters.enumerated() {
                for (slot, dst) in [("exp_avg", m[gi][pi]), ("exp_avg_sq", v[gi][pi])] {
                    let key = "\(gi).\(pi).\(slot)"
                    guard let src = state[key] else { throw OptimizerStateError.missing(key) }
                    guard src.shape == p.shape else { throw OptimizerStateError.shape(key, expected: p.shape, found: src.shape) }
                    dst.assign(src)
                }
                loadedSteps[gi][pi] = Int(state["\(gi).\(pi).step"]?.item ?? s.item)
            }
        }
        stepCount = Int(s.item)
        steps = loadedSteps
    }
}

/// SGD with momentum, dampening 0, optional Nesterov, and L2 weight decay added to the
/// gradient (PyTorch's SGD).
public final class SGD: Optimizer {
    public var groups: [ParameterGroup]
    public let momentum: Float
    public let nesterov: Bool
    var buffers: [[Tensor?]]

    public init(groups: [ParameterGroup], momentum: Float = 0.9, nesterov: Bool = false) {
        self.groups = groups
        self.momentum = momentum
        self.nesterov = nesterov
        buffers = groups.map { $0.parameters.map { _ in nil } }
    }

    public func step() {
        for (gi, group) in groups.enumerated() {
            let lr = group.learningRate, wd = group.weightDecay
            for (pi, p) in group.parameters.enumerated() {
                guard let g = p.grad else { continue }
                let pp = p.data, pg = g.data
                var d = [Float](repeating: 0, count: p.count)
                for i in 0..<p.count { d[i] = pg[i] + wd * pp[i] }
                if momentum != 0 {
                    if let buf = buffers[gi][pi] {
                        for i in 0..<p.count { buf.data[i] = momentum * buf.data[i] + d[i] }
                    } else {
                        buffers[gi][pi] = Tensor(d, shape: p.shape)
                    }
                    let buf = buffers[gi][pi]!
                    for i in 0..<p.count { d[i] = nesterov ? d[i] + momentum * buf.data[i] : buf.data[i] }
                }
                for i in 0..<p.count { pp[i] -= lr * d[i] }
            }
        }
    }

    public func stateTensors() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (gi, bs) in buffers.enumerated() {
            for (pi, b) in bs.enumerated() { if let b { out["\(gi).\(pi).momentum_buffer"] = b } }
        }
        return out
    }

    public func loadState(_ state: [String: Tensor]) throws {
        for (gi, g) in groups.enumerated() {
            for (pi, p) in g.parameters.enumerated() {
                let key = "\(gi).\(pi).momentum_buffer"
                guard let src = state[key] else { buffers[gi][pi] = nil; continue }
                guard src.shape == p.shape else { throw OptimizerStateError.shape(key, expected: p.shape, found: src.shape) }
                buffers[gi][pi] = src.clone()
            }
        }
    }
}

/// Scales all gradients so that their global L2 norm is at most `maxNorm` (PyTorch's
/// clip_grad_norm_, with its 1e-6 in the denominator). Returns the norm before clipping.
@discardableResult
public func clipGradNorm(_ parameters: [Tensor], maxNorm: Float) -> Float {
    var total = 0.0
    for p in parameters {
        guard let g = p.grad else { continue }
        // Four running sums (one serial Double sum was a noticeable part of a training step).
        let d = g.data, n = g.count
        var acc = SIMD4<Double>()
        var i = 0
        while i + 4 <= n {
            let x = SIMD4<Double>(Double(d[i]), Double(d[i + 1]), Double(d[i + 2]), Double(d[i + 3]))
            acc += x * x
            i += 4
        }
        var tail = 0.0
        while i < n {
            tail += Double(d[i]) * Double(d[i])
            i += 1
        }
        total += acc.sum() + tail
    }
    let norm = Float(total.squareRoot())
    let coef = maxNorm / (norm + 1e-6)
    if coef < 1 {
        for p in parameters {
            guard let g = p.grad else { continue }
            for i in 0..<g.count { g.data[i] *= coef }
        }
    }
    return norm
}
