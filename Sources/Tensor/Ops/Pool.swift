extension Tensor {
    /// Max pooling of [N, C, H, W] (padding counts as -infinity); the gradient flows to the
    /// first maximal element of each window.
    public func maxPool2d(kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0)) -> Tensor {
        let x = self
        precondition(rank == 4, "maxPool2d: input \(shape)")
        let s = stride ?? kernel
        let n = shape[0] * shape[1], h = shape[2], w = shape[3]
        let ho = (h + 2 * padding.0 - kernel.0) / s.0 + 1, wo = (w + 2 * padding.1 - kernel.1) / s.1 + 1
        precondition(ho > 0 && wo > 0, "maxPool2d: output would be empty for \(shape)")
        let out = Tensor.empty([shape[0], shape[1], ho, wo])
        var argmax = [Int32](repeating: 0, count: out.count)
        let px = x.data, po = out.data
        argmax.withUnsafeMutableBufferPointer { ab in
            nonisolated(unsafe) let am = ab.baseAddress!
            Threads.parallelFor(n, costPerItem: ho * wo * kernel.0 * kernel.1) { r in
                for plane in r {
                    let src = px + plane * h * w
                    for oy in 0..<ho {
                        // The window's rows and columns inside the image, found once per row and
                        // output instead of tested per element.
                        let y0 = oy * s.0 - padding.0
                        let kyLo = Swift.max(0, -y0), kyHi = Swift.min(kernel.0, h - y0)
                        for ox in 0..<wo {
                            let x0 = ox * s.1 - padding.1
                            let kxLo = Swift.max(0, -x0), kxHi = Swift.min(kernel.1, w - x0)
                            var best = -Float.infinity
                            var bi: Int32 = -1
                            // PyTorch's rule: the first largest element (ties keep the first),
                            // but any NaN replaces it (so the last NaN of the window wins).
                            for ki in kyLo..<Swift.max(kyLo, kyHi) {
                                let rowStart = (y0 + ki) * w + x0
                                for kj in kxLo..<Swift.max(kxLo, kxHi) {
                                    let v = src[rowStart + kj]
                                    if v > best || v.isNaN || bi < 0 {
                                        best = v
                                        bi = Int32(rowStart + kj)
                                    }
                                }
                            }
                            let o = (plane * ho + oy) * wo + ox
                            po[o] = best
                            am[o] = bi
                        }
                    }
                }
            }
        }
        return Tensor.record(out, "max_pool2d", [x]) { g in
            let gx = Tensor.zeros(x.shape)
            for plane in 0..<n {
                let dst = gx.data + plane * h * w
                for i in 0..<(ho * wo) {
                    let o = plane * ho * wo + i
                    if argmax[o] >= 0 { dst[Int(argmax[o])] += g.data[o] }
                }
            }
            return [gx]
        }
    }

    /// Average pooling of [N, C, H, W] (zero padding counted in the divisor, as PyTorch's default).
    public func avgPool2d(kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0)) -> Tensor {
        let s = stride ?? kernel
        let h = shape[2], w = shape[3]
        let ho = (h + 2 * padding.0 - kernel.0) / s.0 + 1, wo = (w + 2 * padding.1 - kernel.1) / s.1 + 1
        let divisor = Float(kernel.0 * kernel.1)
        return windowAverage(outH: ho, outW: wo, name: "avg_pool2d") { oy, ox in
            let y0 = oy * s.0 - padding.0, x0 = ox * s.1 - padding.1
            return (Swift.max(y0, 0), Swift.min(y0 + kernel.0, h), Swift.max(x0, 0), Swift.min(x0 + kernel.1, w), divisor)
        }
    }

    /// Adaptive average pooling to [outH, outW]: window i spans floor(i*H/oh) to ceil((i+1)*H/oh).
    public func adaptiveAvgPool2d(_ outH: Int, _ outW: Int) -> Tensor {
        let h = shape[2], w = shape[3]
        return windowAverage(outH: outH, outW: outW, name: "adaptive_avg_pool2d") { oy, ox in
            let y0 = oy * h / outH, y1 = ((oy + 1) * h + outH - 1) / outH
            let x0 = ox * w / outW, x1 = ((ox + 1) * w + outW - 1) / outW
            return (y0, y1, x0, x1, Float((y1 - y0) * (x1 - x0)))
        }
    }

    /// Shared kernel of the average pools: `window(oy, ox)` gives the input rectangle and divisor.
    func windowAverage(outH: Int, outW: Int, name: String,
                       _ window: @escaping (Int, Int) -> (Int, Int, Int, Int, Float)) -> Tensor {
        let x = self
        precondition(rank == 4 && outH > 0 && outW > 0, "\(name): input \(shape) to \(outH)x\(outW)")
        let n = shape[0] * shape[1], h = shape[2], w = shape[3]
        let out = Tensor.empty([shape[0], shape[1], outH, outW])
        let px = x.data, po = out.data
        Threads.parallelFor(n, costPerItem: h * w) { r in
            for plane in r {
                let src = px + plane * h * w
                for oy in 0..<outH {
                    for ox in 0..<outW {
                        let (y0, y1, x0, x1, d) = window(oy, ox)
                        var s: Float = 0
                        for iy in y0..<Swift.max(y0, y1) { for ix in x0..<Swift.max(x0, x1) { s += src[iy * w + ix] } }
                        po[(plane * outH + oy) * outW + ox] = s / d
                    }
                }
            }
        }
        return Tensor.record(out, name, [x]) { g in
            let gx = Tensor.zeros(x.shape)
            for plane in 0..<n {
                let dst = gx.data + plane * h * w
                for oy in 0..<outH {
                    for ox in 0..<outW {
                        let (y0, y1, x0, x1, d) = window(oy, ox)
                        let v = g.data[(plane * outH + oy) * outW + ox] / d
                        for iy in y0..<Swift.max(y0, y1) { for ix in x0..<Swift.max(x0, x1) { dst[iy * w + ix] += v } }
                    }
                }
            }
            return [gx]
        }
    }
}
