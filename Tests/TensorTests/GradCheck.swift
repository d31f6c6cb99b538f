import Base
import Tensor
import XCTest

/// Finite-difference gradient checking.
///
/// The checked scalar is `sum(f(inputs) * w)` with fixed random weights `w`, so that errors
/// cannot cancel out in a plain sum. Each input element is perturbed by ±eps (central
/// difference); the analytic gradient from `backward()` must agree within
/// `atol + rtol * |numeric|`.
func checkGradients(_ name: String, _ inputs: [Tensor], eps: Float = 1e-2, atol: Float = 2e-3, rtol: Float = 2e-2,
                    file: StaticString = #filePath, line: UInt = #line, _ f: ([Tensor]) -> Tensor) {
    for t in inputs {
        t.requiresGrad = true
        t.grad = nil
    }
    let probe = f(inputs)
    var rng = SplitMix64(seed: 99)
    let w = Tensor.uniform(probe.shape, low: 0.5, high: 1.5, using: &rng)
    let loss = (probe * w).sum()
    loss.backward()
    func value() -> Double {
        withNoGrad { Double((f(inputs) * w).sum().item) }
    }
    for (k, t) in inputs.enumerated() {
        guard let g = t.grad else {
            XCTFail("\(name): input \(k) got no gradient", file: file, line: line)
            continue
        }
        XCTAssertEqual(g.shape, t.shape, "\(name): gradient shape", file: file, line: line)
        var worst: Float = 0
        var worstAt = -1
        for i in 0..<t.count {
            let saved = t.data[i]
            t.data[i] = saved + eps
            let up = value()
            t.data[i] = saved - eps
            let down = value()
            t.data[i] = saved
            let numeric = Float((up - down) / Double(2 * eps))
            let analytic = g.data[i]
            let excess = Swift.abs(analytic - numeric) - (atol + rtol * Swift.abs(numeric))
            if excess > worst {
                worst = excess
                worstAt = i
            }
        }
        if worstAt >= 0 {
            let saved = t.data[worstAt]
            t.data[worstAt] = saved + eps
            let up = value()
            t.data[worstAt] = saved - eps
            let down = value()
            t.data[worstAt] = saved
            XCTFail("\(name): input \(k) element \(worstAt): analytic \(g.data[worstAt]) vs numeric \(Float((up - down) / Double(2 * eps)))",
                    file: file, line: line)
        }
    }
}

/// A random tensor whose values stay away from 0 by at least `gap` (for ops with a kink at 0).
func randomTensor(_ shape: [Int], seed: UInt64, low: Float = -2, high: Float = 2, gap: Float = 0) -> Tensor {
    var rng = SplitMix64(seed: seed)
    let t = Tensor.uniform(shape, low: low, high: high, using: &rng)
    if gap > 0 {
        for i in 0..<t.count where Swift.abs(t.data[i]) < gap { t.data[i] = t.data[i] < 0 ? -gap - 0.1 : gap + 0.1 }
    }
    return t
}
