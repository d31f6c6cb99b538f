import Tensor
import XCTest

/// The oneDNN and reference convolution paths agree (forward, backward-data, backward-weights).
final class ConvBackendTests: XCTestCase {
    func compare(_ xs: [Int], _ ws: [Int], stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int), groups: Int,
                 file: StaticString = #filePath, line: UInt = #line) {
        var results: [[Float]] = []
        for backend in [ConvolutionBackend.reference, .oneDNN] {
            let x = randomTensor(xs, seed: 1), w = randomTensor(ws, seed: 2), b = randomTensor([ws[0]], seed: 3)
            for t in [x, w, b] { t.requiresGrad = true }
            let y = x.conv2d(weight: w, bias: b, stride: stride, padding: padding, dilation: dilation, groups: groups, backend: backend)
            let gw = randomTensor(y.shape, seed: 4)
            (y * gw).sum().backward()
            results.append(y.scalars + x.grad!.scalars + w.grad!.scalars + b.grad!.scalars)
        }
        var worst: Float = 0
        for (a, b) in zip(results[0], results[1]) { worst = Swift.max(worst, Swift.abs(a - b) / Swift.max(1, Swift.abs(b))) }
        XCTAssertLessThan(worst, 1e-4, "\(xs) * \(ws)", file: file, line: line)
    }

    func testBackendsAgree() {
        compare([2, 3, 9, 8], [4, 3, 3, 3], stride: (1, 1), padding: (1, 1), dilation: (1, 1), groups: 1)
        compare([1, 4, 11, 10], [6, 2, 3, 3], stride: (2, 2), padding: (1, 1), dilation: (1, 1), groups: 2)
        compare([1, 3, 20, 18], [8, 3, 7, 7], stride: (2, 2), padding: (3, 3), dilation: (1, 1), groups: 1)
        compare([1, 2, 9, 9], [3, 2, 3, 3], stride: (1, 1), padding: (2, 2), dilation: (2, 2), groups: 1)
        compare([2, 16, 6, 5], [32, 16, 1, 1], stride: (1, 1), padding: (0, 0), dilation: (1, 1), groups: 1)
        compare([1, 16, 12, 12], [16, 16, 3, 3], stride: (2, 2), padding: (1, 1), dilation: (1, 1), groups: 1)
    }
}
