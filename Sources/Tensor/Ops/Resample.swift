import Foundation

extension Tensor {
    /// Nearest-neighbour resize of [N, C, H, W] to [outH, outW] (PyTorch's 'nearest':
    /// source index floor(dst * in / out)).
    public func interpolateNearest(_ outH: Int, _ outW: Int) -> Tensor {
        let x = self
        precondition(rank == 4 && outH > 0 && outW > 0, "interpolate: input \(shape) to \(outH)x\(outW)")
        let n = shape[0] * shape[1], h = shape[2], w = shape[3]
        let sy = Float(h) / Float(outH), sx = Float(w) / Float(outW)
        let ys = (0..<outH).map { Swift.min(Int((Float($0) * sy).rounded(.down)), h - 1) }
        let xs = (0..<outW).map { Swift.min(Int((Float($0) * sx).rounded(.down)), w - 1) }
        let out = Tensor.empty([shape[0], shape[1], outH, outW])
        for plane in 0..<n {
            let src = x.data + plane * h * w, dst = out.data + plane * outH * outW
            for oy in 0..<outH { for ox in 0..<outW { dst[oy * outW + ox] = src[ys[oy] * w + xs[ox]] } }
        }
        return Tensor.record(out, "interpolate_nearest", [x]) { g in
            let gx = Tensor.zeros(x.shape)
            for plane in 0..<n {
                let src = g.data + plane * outH * outW, dst = gx.data + plane * h * w
                for oy in 0..<outH { for ox in 0..<outW { dst[ys[oy] * w + xs[ox]] += src[oy * outW + ox] } }
            }
            return [gx]
        }
    }

    /// Bilinear resize of [N, C, H, W] to [outH, outW] with align_corners=False (PyTorch):
    /// source coordinate (dst + 0.5) * in / out - 0.5, clamped below at 0.
    public func interpolateBilinear(_ outH: Int, _ outW: Int) -> Tensor {
        let x = self
        precondition(rank == 4 && outH > 0 && outW > 0, "interpolate: input \(shape) to \(outH)x\(outW)")
        let n = shape[0] * shape[1], h = shape[2], w = shape[3]
        func taps(_ outSize: Int, _ inSize: Int) -> [(Int, Int, Float)] {
            let scale = Float(inSize) / Float(outSize)
            return (0..<outSize).map { d in
                let src = Swift.max((Float(d) + 0.5) * scale - 0.5, 0)
                let i0 = Swift.min(Int(src), inSize - 1)
                let i1 = Swift.min(i0 + 1, inSize - 1)
                return (i0, i1, src - Float(i0))
            }
        }
        let ty = taps(outH, h), tx = taps(outW, w)
        let out = Tensor.empty([shape[0], shape[1], outH, outW])
        let px = x.data, po = out.data
        Threads.parallelFor(n, costPerItem: outH * outW * 4) { r in
            for plane in r {
                let src = px + plane * h * w, dst = po + plane * outH * outW
                for oy in 0..<outH {
                    let (y0, y1, ly) = ty[oy]
                    for ox in 0..<outW {
                        let (x0, x1, lx) = tx[ox]
                        let top = src[y0 * w + x0] * (1 - lx) + src[y0 * w + x1] * lx
                        let bottom = src[y1 * w + x0] * (1 - lx) + src[y1 * w + x1] * lx
                        dst[oy * outW + ox] = top * (1 - ly) + bottom * ly
                    }
                }
            }
        }
        return Tensor.record(out, "interpolate_bilinear", [x]) { g in
            let gx = Tensor.zeros(x.shape)
            let pg = g.data, pd = gx.data
            Threads.parallelFor(n, costPerItem: outH * outW * 4) { r in
                for plane in r {
                    let src = pg + plane * outH * outW, dst = pd + plane * h * w
                    for oy in 0..<outH {
                        let (y0, y1, ly) = ty[oy]
                        for ox in 0..<outW {
                            let (x0, x1, lx) = tx[ox]
                            let v = src[oy * outW + ox]
                            dst[y0 * w + x0] += v * (1 - ly) * (1 - lx)
                            dst[y0 * w + x1] += v * (1 - ly) * lx
                            dst[y1 * w + x0] += v * ly * (1 - lx)
                            dst[y1 * w + x1] += v * ly * lx
                        }
                    }
                }
            }
            return [gx]
        }
    }

    /// Bilinear grid sampling (PyTorch's grid_sample, zeros padding, align_corners=False):
    /// input [N, C, H, W], grid [N, Ho, Wo, 2] of (x, y) in [-1, 1]; output [N, C, Ho, Wo].
    /// Gradients flow to the input and to the grid.
    public func gridSample(_ grid: Tensor) -> Tensor {
        let x = self
        precondition(rank == 4 && grid.rank == 4 && grid.shape[0] == shape[0] && grid.shape[3] == 2,
                     "gridSample: input \(shape), grid \(grid.shape)")
        let nb = shape[0], c = shape[1], h = shape[2], w = shape[3]
        let ho = grid.shape[1], wo = grid.shape[2]
        let out = Tensor.zeros([nb, c, ho, wo])
        // Unnormalise: ((g + 1) * size - 1) / 2.
        func coords(_ b: Int, _ i: Int) -> (Float, Float) {
            let gp = grid.data + (b * ho * wo + i) * 2
            return (((gp[0] + 1) * Float(w) - 1) / 2, ((gp[1] + 1) * Float(h) - 1) / 2)
        }
        for b in 0..<nb {
            for i in 0..<(ho * wo) {
                let (ix, iy) = coords(b, i)
                let x0 = Int(ix.rounded(.down)), y0 = Int(iy.rounded(.down))
                let lx = ix - Float(x0), ly = iy - Float(y0)
                let corners = [(x0, y0, (1 - lx) * (1 - ly)), (x0 + 1, y0, lx * (1 - ly)), (x0, y0 + 1, (1 - lx) * ly), (x0 + 1, y0 + 1, lx * ly)]
                for (cx, cy, wgt) in corners where cx >= 0 && cx < w && cy >= 0 && cy < h {
                    for ch in 0..<c {
                        out.data[(b * c + ch) * ho * wo + i] += wgt * x.data[((b * c + ch) * h + cy) * w + cx]
                    }
                }
            }
        }
        return Tensor.record(out, "grid_sample", [x, grid]) { g in
            let gx = Tensor.zeros(x.shape), gg = Tensor.zeros(grid.shape)
            for b in 0..<nb {
                for i in 0..<(ho * wo) {
                    let (ix, iy) = coords(b, i)
                    let x0 = Int(ix.rounded(.down)), y0 = Int(iy.rounded(.down))
                    let lx = ix - Float(x0), ly = iy - Float(y0)
                    var dix: Float = 0, diy: Float = 0
                    // (corner x, corner y, weight, d weight / d ix, d weight / d iy)
                    let corners = [(x0, y0, (1 - lx) * (1 - ly), -(1 - ly), -(1 - lx)),
                                   (x0 + 1, y0, lx * (1 - ly), 1 - ly, -lx),
                                   (x0, y0 + 1, (1 - lx) * ly, -ly, 1 - lx),
                                   (x0 + 1, y0 + 1, lx * ly, ly, lx)]
                    for (cx, cy, wgt, dwx, dwy) in corners where cx >= 0 && cx < w && cy >= 0 && cy < h {
                        for ch in 0..<c {
                            let gv = g.data[(b * c + ch) * ho * wo + i]
                            let idx = ((b * c + ch) * h + cy) * w + cx
                            gx.data[idx] += wgt * gv
                            let v = x.data[idx]
                            dix += dwx * v * gv
                            diy += dwy * v * gv
                        }
                    }
                    let gp = gg.data + (b * ho * wo + i) * 2
                    gp[0] = dix * Float(w) / 2
                    gp[1] = diy * Float(h) / 2
                }
            }
            return [x.requiresGrad ? gx : nil, grid.requiresGrad ? gg : nil]
        }
    }
}
