import Base
import Tensor
import TestSupport
import XCTest

/// Multi-scale deformable attention: the fused kernels against the reference composed of
/// grid_sample (values and the three gradients, border points included), both against finite
/// differences, and against PyTorch's official pure version (fixture from
/// scripts/fixtures/ms_deform_attn_reference.py).
final class DeformableAttentionTests: XCTestCase {
    typealias Shapes = [(height: Int, width: Int)]

    /// Level l's first position in the flattened value: the sums of the sizes before it.
    func starts(_ shapes: Shapes) -> [Int] {
        var out: [Int] = [], s = 0
        for (h, w) in shapes { out.append(s); s += h * w }
        return out
    }

    /// Random value [B, S, H, D], locations [B, Q, H, L, P, 2] in [-0.3, 1.3] and weights [B, Q, H, L, P].
    func inputs(_ shapes: Shapes, b: Int, q: Int, h: Int, d: Int, p: Int, seed: UInt64) -> (Tensor, Tensor, Tensor) {
        let s = shapes.map { $0.height * $0.width }.reduce(0, +), l = shapes.count
        var rng = SplitMix64(seed: seed)
        return (Tensor.uniform([b, s, h, d], low: -1, high: 1, using: &rng),
                Tensor.uniform([b, q, h, l, p, 2], low: -0.3, high: 1.3, using: &rng),
                Tensor.uniform([b, q, h, l, p], low: 0, high: 1, using: &rng))
    }

    /// Calls `body(point, coordinate, size)` for both coordinates of every point of `loc`, with
    /// the size of the point's level along that coordinate (its width for x, height for y).
    func forEachCoordinate(_ loc: Tensor, _ shapes: Shapes, _ body: (Int, Int, Float) -> Void) {
        let l = shapes.count, p = loc.shape[4]
        for point in 0..<(loc.count / 2) {
            let level = point / p % l
            body(point, 0, Float(shapes[level].width))
            body(point, 1, Float(shapes[level].height))
        }
    }

    func run(_ v: Tensor, _ shapes: Shapes, _ loc: Tensor, _ attn: Tensor, _ backend: DeformableAttentionBackend) -> Tensor {
        Tensor.msDeformAttn(value: v, spatialShapes: shapes, levelStartIndex: starts(shapes), samplingLocations: loc,
                            attentionWeights: attn, backend: backend)
    }

    func testFusedMatchesReference_BordersAndOutside() {
        // 5 channels per head, and 32 (the kernel's own path for Mask2Former's 256 / 8).
        for d in [5, 32] { compareFusedWithReference(channels: d) }
    }

    func compareFusedWithReference(channels d: Int) {
        // Power-of-two sizes so that every border coordinate below is exact in both paths.
        let shapes: Shapes = [(4, 8), (1, 2), (2, 4)]
        let (v, loc, attn) = inputs(shapes, b: 2, q: 6, h: 3, d: d, p: 4, seed: 1)
        // Pixel coordinates (loc * size - 0.5) on the borders: the map's edges, the first and last
        // pixel centres, -1 and size (the last coordinates where a tap touches the map), an
        // inner pixel centre, outside; the first 81 points take every (x, y) pair of them.
        forEachCoordinate(loc, shapes) { point, c, size in
            guard point < 81 else { return }
            let pixels: [Float] = [-0.5, size - 0.5, 0, size - 1, -1, size, 1, -3, size + 2]
            loc.data[2 * point + c] = (pixels[c == 0 ? point % 9 : point / 9] + 0.5) / size
        }
        var rng = SplitMix64(seed: 2)
        let w = Tensor.uniform([2, 6, 3 * d], low: -1, high: 1, using: &rng)
        var results: [[Tensor]] = []
        for backend in [DeformableAttentionBackend.reference, .fused] {
            let xs = [v, loc, attn].map { Tensor($0.scalars, shape: $0.shape, requiresGrad: true) }
            let out = run(xs[0], shapes, xs[1], xs[2], backend)
            (out * w).sum().backward()
            results.append([out] + xs.map { $0.grad! })
        }
        for (i, name) in ["output", "value gradient", "location gradient", "weight gradient"].enumerated() {
            assertAllClose(results[1][i], results[0][i].scalars, "D = \(d): \(name)")
        }
        // Only the locations need a gradient (the kernel skips the value's): the same one.
        let onlyLoc = Tensor(loc.scalars, shape: loc.shape, requiresGrad: true)
        (run(v, shapes, onlyLoc, attn, .fused) * w).sum().backward()
        XCTAssertEqual(onlyLoc.grad!.scalars, results[1][2].scalars)
    }

    func testGradientsAgainstFiniteDifferences() {
        let shapes: Shapes = [(2, 3), (3, 2)]
        let (v, loc, attn) = inputs(shapes, b: 1, q: 2, h: 2, d: 3, p: 2, seed: 3)
        // Keep every pixel coordinate 0.05 away from the kinks of bilinear sampling (integers).
        forEachCoordinate(loc, shapes) { point, c, size in
            let pixel = loc.data[2 * point + c] * size - 0.5
            if Swift.abs(pixel - pixel.rounded()) < 0.05 { loc.data[2 * point + c] += 0.1 / size }
        }
        for backend in [DeformableAttentionBackend.fused, .reference] {
            checkGradients("msDeformAttn \(backend)", [v, loc, attn], eps: 1e-3, atol: 5e-3, rtol: 5e-2) {
                self.run($0[0], shapes, $0[1], $0[2], backend)
            }
        }
    }

    struct Fixture: Decodable {
        struct Sizes: Decodable { let batch, queries, heads, channels, points: Int }
        struct Border: Decodable { let index: Int; let xy: [Float] }
        let seed: UInt64
        let sizes: Sizes
        let spatial_shapes: [[Int]]
        let level_start_index: [Int]
        let ranges: [String: [Float]]
        let border_points: [Border]
        let output, grad_value, grad_loc, grad_attn: TorchParityTests.Encoded
    }

    func testMatchesPyTorch() throws {
        let f = try TestPaths.decodeFixture(Fixture.self, "ms_deform_attn.json")
        let z = f.sizes, shapes: Shapes = f.spatial_shapes.map { ($0[0], $0[1]) }
        let s = shapes.map { $0.height * $0.width }.reduce(0, +)
        // The script's draws: value, locations, weights, then the output's weights w.
        var rng = SplitMix64(seed: f.seed)
        func draw(_ shape: [Int], _ range: String) -> Tensor {
            Tensor.uniform(shape, low: f.ranges[range]![0], high: f.ranges[range]![1], using: &rng, requiresGrad: true)
        }
        let value = draw([z.batch, s, z.heads, z.channels], "value")
        let loc = draw([z.batch, z.queries, z.heads, shapes.count, z.points, 2], "loc")
        let attn = draw([z.batch, z.queries, z.heads, shapes.count, z.points], "attn")
        let w = draw([z.batch, z.queries, z.heads * z.channels], "weight")
        for b in f.border_points { (loc.data[2 * b.index], loc.data[2 * b.index + 1]) = (b.xy[0], b.xy[1]) }
        for backend in [DeformableAttentionBackend.fused, .reference] {
            for t in [value, loc, attn] { t.grad = nil }
            let out = Tensor.msDeformAttn(value: value, spatialShapes: shapes, levelStartIndex: f.level_start_index,
                                          samplingLocations: loc, attentionWeights: attn, backend: backend)
            (out * w.detach()).sum().backward()
            assertAllClose(out, f.output.data, "\(backend) output")
            assertAllClose(value.grad!, f.grad_value.data, "\(backend) value gradient")
            assertAllClose(loc.grad!, f.grad_loc.data, "\(backend) location gradient")
            assertAllClose(attn.grad!, f.grad_attn.data, "\(backend) weight gradient")
        }
    }
}

/// Elementwise |got - want| <= atol + rtol * |want|, reporting the worst element.
func assertAllClose(_ got: Tensor, _ want: [Float], _ what: String, atol: Float = 1e-5, rtol: Float = 1e-5,
                    file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(got.count, want.count, "\(what): element count", file: file, line: line)
    var worst: Float = 0, at = -1
    for (i, (a, b)) in zip(got.scalars, want).enumerated() {
        let excess = Swift.abs(a - b) - (atol + rtol * Swift.abs(b))
        if !(excess <= 0) && (at < 0 || excess > worst || excess.isNaN) { (worst, at) = (excess, i) }
    }
    if at >= 0 { XCTFail("\(what): element \(at): got \(got.scalars[at]), expected \(want[at])", file: file, line: line) }
}
