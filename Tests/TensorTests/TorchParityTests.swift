import Foundation
import Tensor
import TestSupport
import XCTest

/// Values and gradients against PyTorch (fixtures from scripts/fixtures/tensor_ops_reference.py).
final class TorchParityTests: XCTestCase {
    struct Encoded: Decodable {
        let shape: [Int]
        let data: [Float]
        var tensor: Tensor { Tensor(data, shape: shape) }
    }

    struct Params: Decodable {
        let stride: Int?
        let padding: Int?
        let dilation: Int?
        let groups: Int?
        let size: [Int]?
        let kernel: Int?
        let targets: [Float]?
        let class_weight: [Float]?
    }

    struct Case: Decodable {
        let name: String
        let params: Params
        let inputs: [String: Encoded]
        let output: Encoded
        let weight: Encoded?
        let grads: [String: Encoded]?
    }

    struct File: Decodable {
        let torch: String
        let cases: [Case]
    }

    /// Runs our op for a case; `t` holds the inputs by name.
    func run(_ c: Case, _ t: [String: Tensor]) -> Tensor {
        let p = c.params
        switch c.name {
        case "conv2d":
            let s = p.stride!, pad = p.padding!, d = p.dilation!
            return t["x"]!.conv2d(weight: t["weight"]!, bias: t["bias"], stride: (s, s), padding: (pad, pad), dilation: (d, d), groups: p.groups!)
        case "interpolate_bilinear": return t["x"]!.interpolateBilinear(p.size![0], p.size![1])
        case "interpolate_nearest": return t["x"]!.interpolateNearest(p.size![0], p.size![1])
        case "grid_sample": return t["x"]!.gridSample(t["grid"]!)
        case "max_pool2d":
            return t["x"]!.maxPool2d(kernel: (p.kernel!, p.kernel!), stride: (p.stride!, p.stride!), padding: (p.padding!, p.padding!))
        case "adaptive_avg_pool2d": return t["x"]!.adaptiveAvgPool2d(p.size![0], p.size![1])
        case "layer_norm": return t["x"]!.layerNorm(weight: t["weight"], bias: t["bias"])
        case "group_norm": return t["x"]!.groupNorm(groups: p.groups!, weight: t["weight"], bias: t["bias"])
        case "batch_norm_train":
            let c = t["x"]!.shape[1]
            return t["x"]!.batchNorm(weight: t["weight"], bias: t["bias"], runningMean: .zeros([c]), runningVar: .ones([c]), training: true)
        case "cross_entropy_weighted":
            return Tensor.crossEntropy(t["logits"]!, IntTensor(p.targets!.map { Int($0) }),
                                       weight: Tensor(p.class_weight!, shape: [p.class_weight!.count])).reshape([1])
        case "sigmoid_focal_loss":
            let x = t["logits"]!
            return Tensor.sigmoidFocalLoss(x, Tensor(p.targets!, shape: x.shape), reduction: .sum).reshape([1])
        case "bce_with_logits":
            let x = t["logits"]!
            return Tensor.binaryCrossEntropyWithLogits(x, Tensor(p.targets!, shape: x.shape)).reshape([1])
        case "gelu": return t["x"]!.gelu()
        case "softmax": return t["x"]!.softmax(axis: 1)
        case "log_softmax": return t["x"]!.logSoftmax(axis: -1)
        default:
            XCTFail("unknown case \(c.name)")
            return Tensor.zeros([0])
        }
    }

    func assertClose(_ got: Tensor, _ want: Encoded, _ what: String, rtol: Float = 1e-5, atol: Float = 1e-5) {
        XCTAssertEqual(got.shape, want.shape, what)
        guard got.shape == want.shape else { return }
        var worst: Float = 0, at = 0
        for (i, (a, b)) in zip(got.scalars, want.data).enumerated() {
            let excess = Swift.abs(a - b) - (atol + rtol * Swift.abs(b))
            if excess > worst { worst = excess; at = i }
        }
        XCTAssertEqual(worst, 0, "\(what): element \(at): ours \(got.scalars[at]) vs PyTorch \(want.data[at])")
    }

    func testOpsMatchPyTorch() throws {
        let file = try TestPaths.decodeFixture(File.self, "torch_ops.json")
        XCTAssertGreaterThanOrEqual(file.cases.count, 20)
        for (k, c) in file.cases.enumerated() {
            var inputs: [String: Tensor] = [:]
            for (name, e) in c.inputs {
                let t = e.tensor
                t.requiresGrad = true
                inputs[name] = t
            }
            let out = run(c, inputs)
            let label = "case \(k) \(c.name)"
            assertClose(out, c.output, "\(label) output")
            guard let w = c.weight, let grads = c.grads else { continue }
            (out * w.tensor).sum().backward()
            for (name, want) in grads {
                guard let g = inputs[name]?.grad else {
                    XCTFail("\(label): no gradient for \(name)")
                    continue
                }
                // Gradients sum many float32 products: a slightly wider absolute tolerance.
                assertClose(g, want, "\(label) grad \(name)", rtol: 1e-4, atol: 2e-5)
            }
        }
    }
}
