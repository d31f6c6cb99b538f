import ArgumentParser
import Base
import Model
import NN
import Tensor

/// `detr-bench ops`: engine kernels against PyTorch (scripts/bench/ops_ref.py, same shapes).
struct OpsBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ops", abstract: "Engine kernels (GEMM, ResNet-50 convolutions, a DETR encoder layer, softmax, layer norm, deformable attention) vs PyTorch.")

    @OptionGroup var options: BenchOptions

    func run() throws {
        try Bench.runCases(Self.cases(), area: "ops", options: options)
    }

    /// ResNet-50 convolution shapes at 1x3x800x1066: (name, in, out, kernel, stride, padding, H, W).
    static let convShapes: [(String, Int, Int, Int, Int, Int, Int, Int)] = [
        ("conv1", 3, 64, 7, 2, 3, 800, 1066),
        ("layer1-3x3", 64, 64, 3, 1, 1, 200, 267),
        ("layer3-1x1", 1024, 256, 1, 1, 0, 50, 67),
        ("layer3-3x3", 256, 256, 3, 1, 1, 50, 67),
        ("layer4-3x3s2", 512, 512, 3, 2, 1, 50, 67),
    ]

    static func cases() -> [BenchCase] {
        var out: [BenchCase] = []
        for n in [1024, 4096] {
            out.append(BenchCase(name: "sgemm-\(n)", reference: "torch", referenceScript: "ops_ref.py", referenceArguments: ["sgemm-\(n)"]) {
                var rng = SplitMix64(seed: 1)
                let a = Tensor.uniform([n, n], using: &rng), b = Tensor.uniform([n, n], using: &rng)
                return { _ = a.matmul(b) }
            })
        }
        for (name, cin, cout, k, s, p, h, w) in convShapes {
            for backward in [false, true] {
                let caseName = "conv-\(name)-\(backward ? "bwd" : "fwd")"
                out.append(BenchCase(name: caseName, reference: "torch", referenceScript: "ops_ref.py", referenceArguments: [caseName]) {
                    var rng = SplitMix64(seed: 2)
                    let x = Tensor.uniform([1, cin, h, w], low: -1, high: 1, using: &rng)
                    let wt = Tensor.uniform([cout, cin, k, k], low: -0.1, high: 0.1, using: &rng, requiresGrad: backward)
                    // The stem's input is the image: no gradient (as in training).
                    x.requiresGrad = backward && name != "conv1"
                    if !backward {
                        return { _ = withNoGrad { x.conv2d(weight: wt, stride: (s, s), padding: (p, p)) } }
                    }
                    let y0 = x.conv2d(weight: wt, stride: (s, s), padding: (p, p))
                    let g = Tensor.uniform(y0.shape, using: &rng)
                    return {
                        wt.grad = nil
                        x.grad = nil
                        let y = x.conv2d(weight: wt, stride: (s, s), padding: (p, p))
                        y.backward(g)
                    }
                })
            }
        }
        out.append(BenchCase(name: "encoder-layer", reference: "torch", referenceScript: "ops_ref.py", referenceArguments: ["encoder-layer"]) {
            var rng = SplitMix64(seed: 3)
            // DETR's post-norm encoder layer (d_model 256, 8 heads, FFN 2048, dropout 0 for timing).
            let layer = EncoderLayer(dModel: 256, heads: 8, feedForward: 2048, dropout: 0, preNorm: false, using: &rng)
            let src = Tensor.uniform([850, 2, 256], low: -1, high: 1, using: &rng, requiresGrad: true)
            let pos = Tensor.uniform([850, 2, 256], low: -1, high: 1, using: &rng)
            let g = Tensor.uniform([850, 2, 256], using: &rng)
            return {
                src.grad = nil
                for p in layer.parameters() { p.grad = nil }
                var ctx = ForwardContext(training: true)
                layer(src, mask: nil, pos: pos, &ctx).backward(g)
            }
        })
        out.append(BenchCase(name: "softmax-10m", reference: "torch", referenceScript: "ops_ref.py", referenceArguments: ["softmax-10m"]) {
            var rng = SplitMix64(seed: 4)
            let x = Tensor.uniform([10_000, 1_000], low: -5, high: 5, using: &rng)
            return { _ = withNoGrad { x.softmax(axis: -1) } }
        })
        out.append(BenchCase(name: "layernorm-10m", reference: "torch", referenceScript: "ops_ref.py", referenceArguments: ["layernorm-10m"]) {
            var rng = SplitMix64(seed: 5)
            let x = Tensor.uniform([39_063, 256], low: -5, high: 5, using: &rng)
            let ln = LayerNorm(256)
            return { _ = withNoGrad { ln(x) } }
        })
        out += deformableAttentionCases()
        return out
    }

    /// Multi-scale deformable attention at Mask2Former's pixel-decoder size for a 512x512 image:
    /// levels 64x64, 32x32, 16x16 (strides 8, 16, 32), a query per position, 8 heads of 32
    /// channels, 4 points, batch 1. `msda-*` runs the fused kernels, `msda-reference-*` the
    /// grid_sample composition; both against PyTorch's official pure version.
    static func deformableAttentionCases() -> [BenchCase] {
        let shapes: [(height: Int, width: Int)] = [(64, 64), (32, 32), (16, 16)]
        let starts = [0, 4096, 5120], s = 5376, h = 8, d = 32, p = 4
        var out: [BenchCase] = []
        for backend in [DeformableAttentionBackend.fused, .reference] {
            for backward in [false, true] {
                let pass = backward ? "bwd" : "fwd"
                let caseName = backend == .fused ? "msda-\(pass)" : "msda-reference-\(pass)"
                out.append(BenchCase(name: caseName, reference: "torch", referenceScript: "ops_ref.py", referenceArguments: ["msda-\(pass)"]) {
                    var rng = SplitMix64(seed: 6)
                    let value = Tensor.uniform([1, s, h, d], low: -1, high: 1, using: &rng, requiresGrad: backward)
                    let loc = Tensor.uniform([1, s, h, 3, p, 2], using: &rng, requiresGrad: backward)
                    let attn = Tensor.uniform([1, s, h, 3, p], using: &rng, requiresGrad: backward)
                    let g = Tensor.uniform([1, s, h * d], using: &rng)
                    func run() -> Tensor {
                        Tensor.msDeformAttn(value: value, spatialShapes: shapes, levelStartIndex: starts, samplingLocations: loc,
                                            attentionWeights: attn, backend: backend)
                    }
                    if !backward { return { _ = withNoGrad(run) } }
                    return {
                        for t in [value, loc, attn] { t.grad = nil }
                        run().backward(g)
                    }
                })
            }
        }
        return out
    }
}
