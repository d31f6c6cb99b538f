import Base
import Foundation
import Model
import Tensor
import XCTest

/// Shared helpers of the matching / loss tests: tensors from JSON (files written by
/// scripts/fixtures/model_matching_reference.py), comparisons.

struct EncodedTensor: Decodable {
    let shape: [Int]
    let data: [Float]
    var tensor: Tensor { Tensor(data, shape: shape) }
}

struct EncodedTarget: Decodable {
    let labels: [Int]
    let boxes: EncodedTensor
    let masks: EncodedTensor?
    var target: DETRTarget {
        DETRTarget(labels: labels, boxes: labels.isEmpty ? Tensor.zeros([0, 4]) : boxes.tensor, masks: masks?.tensor)
    }
}

/// Asserts elementwise |a - b| <= atol + rtol * |b|, reporting the worst element.
func assertClose(_ a: [Float], _ b: [Float], atol: Float = 1e-5, rtol: Float = 1e-4, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    guard a.count == b.count else {
        XCTFail("\(what): \(a.count) values vs \(b.count) expected", file: file, line: line)
        return
    }
    var worst: Float = 0, at = -1
    for i in 0..<a.count {
        let excess = Swift.abs(a[i] - b[i]) - (atol + rtol * Swift.abs(b[i]))
        if !(excess <= 0) && (at < 0 || excess > worst || excess.isNaN) { worst = excess; at = i }
    }
    if at >= 0 { XCTFail("\(what): element \(at): got \(a[at]), expected \(b[at])", file: file, line: line) }
}

/// Relative closeness of two scalars (absolute below 1).
func assertRelClose(_ a: Float, _ b: Double, rel: Double = 1e-4, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    let err = Swift.abs(Double(a) - b) / Swift.max(Swift.abs(b), 1e-3)
    XCTAssert(err <= rel, "\(what): got \(a), expected \(b) (relative error \(err))", file: file, line: line)
}

/// Finite-difference gradient check (the idea of Tests/TensorTests/GradCheck.swift): the
/// checked scalar is sum(f(inputs) * w) for fixed random weights w; central differences of
/// step eps must agree with backward() within atol + rtol * |numeric|.
func checkModelGradients(_ name: String, _ inputs: [Tensor], eps: Float = 1e-3, atol: Float = 2e-3, rtol: Float = 2e-2,
                         file: StaticString = #filePath, line: UInt = #line, _ f: ([Tensor]) throws -> Tensor) throws {
    for t in inputs {
        t.requiresGrad = true
        t.grad = nil
    }
    let probe = try f(inputs)
    var rng = SplitMix64(seed: 4242)
    let w = Tensor.uniform(probe.shape, low: 0.5, high: 1.5, using: &rng)
    (probe * w).sum().backward()
    func value() throws -> Double {
        try withNoGrad { Double((try f(inputs) * w).sum().item) }
    }
    for (k, t) in inputs.enumerated() {
        guard let g = t.grad else {
            XCTFail("\(name): input \(k) got no gradient", file: file, line: line)
            continue
        }
        for i in 0..<t.count {
            let saved = t.data[i]
            t.data[i] = saved + eps
            let up = try value()
            t.data[i] = saved - eps
            let down = try value()
            t.data[i] = saved
            let numeric = Float((up - down) / Double(2 * eps))
            let analytic = g.data[i]
            if !(Swift.abs(analytic - numeric) <= atol + rtol * Swift.abs(numeric)) {
                XCTFail("\(name): input \(k) element \(i): analytic \(analytic) vs numeric \(numeric)", file: file, line: line)
                return
            }
        }
    }
}
