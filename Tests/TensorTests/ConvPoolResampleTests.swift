import Base
import Tensor
import XCTest

/// Convolution, pooling and resampling: gradients against finite differences, and values
/// computed by hand (PyTorch's rules for NaN and ties in max pooling).
final class ConvPoolResampleTests: XCTestCase {
    func r(_ shape: [Int], _ seed: UInt64, low: Float = -1, high: Float = 1) -> Tensor {
        randomTensor(shape, seed: seed, low: low, high: high)
    }

    func testConv2d() {
        let cases: [(String, [Int], [Int], (Int, Int), (Int, Int), (Int, Int), Int)] = [
            ("plain 3x3", [2, 3, 5, 6], [4, 3, 3, 3], (1, 1), (0, 0), (1, 1), 1),
            ("padded", [1, 2, 5, 5], [3, 2, 3, 3], (1, 1), (1, 1), (1, 1), 1),
            ("stride 2", [1, 2, 7, 6], [2, 2, 3, 3], (2, 2), (1, 1), (1, 1), 1),
            ("dilation 2", [1, 2, 7, 7], [2, 2, 3, 3], (1, 1), (2, 2), (2, 2), 1),
            ("groups 2", [1, 4, 5, 5], [6, 2, 3, 3], (1, 1), (1, 1), (1, 1), 2),
            ("1x1", [2, 3, 4, 4], [5, 3, 1, 1], (1, 1), (0, 0), (1, 1), 1),
            ("7x7 stride 2 pad 3", [1, 3, 9, 9], [2, 3, 7, 7], (2, 2), (3, 3), (1, 1), 1),
            ("asymmetric", [1, 2, 6, 5], [3, 2, 3, 1], (2, 1), (1, 0), (1, 1), 1),
        ]
        for (name, xs, ws, s, p, d, g) in cases {
            checkGradients("conv2d \(name)", [r(xs, 1), r(ws, 2), r([ws[0]], 3)]) {
                $0[0].conv2d(weight: $0[1], bias: $0[2], stride: s, padding: p, dilation: d, groups: g)
            }
        }
    }

    func testFusedReLU() {
        for backend in [ConvolutionBackend.reference, .oneDNN] {
            checkGradients("conv2d relu \(backend)", [r([1, 2, 6, 5], 11), r([3, 2, 3, 3], 12), r([3], 13)]) {
                $0[0].conv2d(weight: $0[1], bias: $0[2], padding: (1, 1), relu: true, backend: backend)
            }
        }
        checkGradients("add_relu", [randomTensor([3, 4], seed: 14, gap: 0.05), randomTensor([3, 4], seed: 15, gap: 0.05)]) {
            $0[0].addReLU($0[1] * 0.01)
        }
        let x = r([1, 2, 6, 5], 16), w = r([3, 2, 3, 3], 17)
        XCTAssertEqual(x.conv2d(weight: w, padding: (1, 1), relu: true).scalars, x.conv2d(weight: w, padding: (1, 1)).relu().scalars)
    }

    func testPooling() {
        // Distinct values 0.1 apart, so that no ±eps perturbation changes a window's maximum.
        var rng = SplitMix64(seed: 4)
        var values = (0..<72).map { Float($0) * 0.1 - 3.6 }
        for i in stride(from: values.count - 1, through: 1, by: -1) { values.swapAt(i, rng.nextInt(below: i + 1)) }
        checkGradients("max_pool2d", [Tensor(values, shape: [1, 2, 6, 6])]) { $0[0].maxPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1)) }
        checkGradients("avg_pool2d", [r([1, 2, 6, 5], 5)]) { $0[0].avgPool2d(kernel: (2, 2), padding: (1, 0)) }
        checkGradients("adaptive_avg_pool2d", [r([2, 2, 7, 5], 6)]) { $0[0].adaptiveAvgPool2d(3, 2) }
    }

    func testResampling() {
        checkGradients("nearest up", [r([1, 2, 3, 4], 7)]) { $0[0].interpolateNearest(5, 7) }
        checkGradients("nearest down", [r([1, 1, 6, 7], 7)]) { $0[0].interpolateNearest(4, 3) }
        checkGradients("bilinear up", [r([1, 2, 3, 4], 8)]) { $0[0].interpolateBilinear(5, 7) }
        checkGradients("bilinear down", [r([1, 1, 7, 6], 8)]) { $0[0].interpolateBilinear(3, 4) }
        // Grid points away from pixel centres' kinks: small eps.
        checkGradients("grid_sample", [r([1, 2, 4, 5], 9), r([1, 3, 2, 2], 10, low: -1.1, high: 1.1)], eps: 1e-3, atol: 5e-3, rtol: 5e-2) {
            $0[0].gridSample($0[1])
        }
    }

    func testConvValues_HandComputed() {
        // 1 channel 3x3 input, 2x2 kernel of ones: sums of 2x2 windows.
        let x = Tensor([1, 2, 3, 4, 5, 6, 7, 8, 9], shape: [1, 1, 3, 3])
        let w = Tensor.ones([1, 1, 2, 2])
        XCTAssertEqual(x.conv2d(weight: w).scalars, [12, 16, 24, 28])
        XCTAssertEqual(x.conv2d(weight: w, bias: Tensor([1], shape: [1]), stride: (2, 2), padding: (1, 1)).scalars, [2, 6, 12, 29])
        XCTAssertEqual(x.maxPool2d(kernel: (2, 2), stride: (1, 1)).scalars, [5, 6, 8, 9])
        // PyTorch's rules (values checked with torch 2.15): a NaN in the window wins (the last
        // NaN), ties go to the first element (the gradient goes there), padding never wins.
        let tie = Tensor([1, 7, 7, -2, 0, 3, Float.nan, -6, -7], shape: [1, 1, 3, 3], requiresGrad: true)
        let pooled = tie.maxPool2d(kernel: (2, 2), stride: (1, 1))
        XCTAssertEqual(pooled.scalars[0], 7)
        XCTAssertEqual(pooled.scalars[1], 7)
        XCTAssertTrue(pooled.scalars[2].isNaN)
        XCTAssertEqual(pooled.scalars[3], 3)
        pooled.sum().backward()
        XCTAssertEqual(tie.grad!.scalars, [0, 2, 0, 0, 0, 1, 1, 0, 0])
        // Several NaNs in a window: the gradient goes to the last one (torch: [0, 0, 1, 0] and
        // [0, 1, 0, 0]).
        for (values, want) in [([Float.nan, 1, Float.nan, 2], [Float(0), 0, 1, 0]), ([Float.nan, Float.nan, 1, 2], [0, 1, 0, 0])] {
            let x2 = Tensor(values, shape: [1, 1, 2, 2], requiresGrad: true)
            x2.maxPool2d(kernel: (2, 2)).sum().backward()
            XCTAssertEqual(x2.grad!.scalars, want, "\(values)")
        }
        XCTAssertEqual(Tensor([-3, -4, -5, -6], shape: [1, 1, 2, 2]).maxPool2d(kernel: (3, 3), stride: (2, 2), padding: (1, 1)).scalars, [-3])
        XCTAssertEqual(x.adaptiveAvgPool2d(1, 1).scalars, [5])
        XCTAssertEqual(x.interpolateNearest(2, 2).scalars, [1, 2, 4, 5])
        XCTAssertEqual(x.interpolateNearest(6, 6).scalars[0..<6].map { $0 }, [1, 1, 2, 2, 3, 3])
        // Identity grid reproduces the input.
        var grid: [Float] = []
        for i in 0..<3 { for j in 0..<3 { grid += [(2 * Float(j) + 1) / 3 - 1, (2 * Float(i) + 1) / 3 - 1] } }
        let same = x.gridSample(Tensor(grid, shape: [1, 3, 3, 2]))
        for (a, b) in zip(same.scalars, x.scalars) { XCTAssertEqual(a, b, accuracy: 1e-5) }
    }
}
