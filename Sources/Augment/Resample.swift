import Datasets

/// Resampling filters of `Image.resize`.
public enum ResampleFilter: String, Sendable, CaseIterable {
    /// PIL's NEAREST: source pixel `floor((x + 0.5) * in / out)`.
    case nearest
    /// Triangle filter, support 1, widened by the scale on downscale (antialiasing).
    case bilinear
    /// Keys cubic with a = -0.5, support 2, widened by the scale on downscale.
    case bicubic

    var support: Double {
        switch self {
        case .nearest: return 0
        case .bilinear: return 1
        case .bicubic: return 2
        }
    }

    @inline(__always)
    func weight(_ t: Double) -> Double {
        let x = abs(t)
        switch self {
        case .nearest:
            return 0
        case .bilinear:
            return x < 1 ? 1 - x : 0
        case .bicubic:
            let a = -0.5
            if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
            if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
            return 0
        }
    }
}

/// Separable resampling of 8-bit images with the same arithmetic as Pillow's `Resample.c`
/// (written from its description, not copied): for every output pixel the filter is centred
/// at `(x + 0.5) * scale` in the source, widened by `scale` when shrinking (so a downscale
/// averages every source pixel: antialiasing), normalised to sum 1, then turned into 22-bit
/// fixed-point weights. A horizontal pass (only over the rows the vertical pass reads) is
/// followed by a vertical pass, both rounding to 8 bits, as Pillow does. Results equal
/// `Image.resize` (checked against fixtures written by scripts/fixtures/augment_reference.py).
enum Resampler {
    static let precisionBits = 22

    /// Fixed-point filter weights of one axis: output `i` reads `count[i]` source samples
    /// from `start[i]` with weights `weights[i * taps ..< i * taps + count[i]]`.
    struct Coefficients {
        var start: [Int]
        var count: [Int]
        var taps: Int
        var weights: [Int32]
    }

    static func coefficients(inSize: Int, outSize: Int, filter: ResampleFilter) -> Coefficients {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = filter.support * filterScale
        let taps = Int(support.rounded(.up)) * 2 + 1
        var start = [Int](repeating: 0, count: outSize)
        var count = [Int](repeating: 0, count: outSize)
        var weights = [Int32](repeating: 0, count: outSize * taps)
        var k = [Double](repeating: 0, count: taps)
        let one = Double(1 << precisionBits)
        for xx in 0..<outSize {
            let center = (Double(xx) + 0.5) * scale
            // C's (int) truncates toward zero; then clamp to the image.
            let lo = max(0, Int(center - support + 0.5))
            let hi = min(inSize, Int(center + support + 0.5))
            let n = max(0, min(hi - lo, taps))
            var sum = 0.0
            for x in 0..<n {
                let w = filter.weight((Double(x + lo) - center + 0.5) / filterScale)
                k[x] = w
                sum += w
            }
            for x in 0..<n {
                let w = sum != 0 ? k[x] / sum : k[x]
                weights[xx * taps + x] = Int32(w < 0 ? (w * one - 0.5) : (w * one + 0.5))
            }
            start[xx] = lo
            count[xx] = n
        }
        return Coefficients(start: start, count: count, taps: taps, weights: weights)
    }

    /// The fixed-point sum to a byte: below 0 -> 0, at or above 256 << 22 -> 255 (branch-free).
    @inline(__always)
    static func clip8(_ v: Int32) -> UInt8 {
        UInt8(truncatingIfNeeded: min(max(v, 0), Int32(1 << (precisionBits + 8)) - 1) >> Int32(precisionBits))
    }

    /// Resizes interleaved 8-bit pixels with `channels` channels.
    static func resize(_ src: [UInt8], width: Int, height: Int, channels: Int,
                       toWidth outW: Int, toHeight outH: Int, filter: ResampleFilter) -> [UInt8] {
        if outW == width && outH == height { return src }
        if outW == 0 || outH == 0 || width == 0 || height == 0 {
            return [UInt8](repeating: 0, count: outW * outH * channels)
        }
        if filter == .nearest {
            return nearest(src, width: width, height: height, channels: channels, toWidth: outW, toHeight: outH)
        }
        let vert = coefficients(inSize: height, outSize: outH, filter: filter)
        // Rows of the source the vertical pass reads.
        let firstRow = vert.start[0]
        let lastRow = vert.start[outH - 1] + vert.count[outH - 1]
        var rows = src
        var rowsWidth = width
        var rowOffset = 0
        if outW != width {
            let horiz = coefficients(inSize: width, outSize: outW, filter: filter)
            rows = horizontal(src, width: width, channels: channels, rows: firstRow..<lastRow, coefficients: horiz, outWidth: outW)
            rowsWidth = outW
            rowOffset = firstRow
        }
        if outH == height { return rows }
        return vertical(rows, width: rowsWidth, channels: channels, rowOffset: rowOffset, coefficients: vert, outHeight: outH)
    }

    @inline(never)
    static func horizontal(_ src: [UInt8], width: Int, channels: Int, rows: Range<Int>,
                           coefficients c: Coefficients, outWidth outW: Int) -> [UInt8] {
        let half = Int32(1 << (precisionBits - 1))
        let rowCount = rows.count
        let taps = c.taps
        return [UInt8](unsafeUninitializedCapacity: rowCount * outW * channels) { out, initialized in
            src.withUnsafeBufferPointer { sp in
                c.weights.withUnsafeBufferPointer { wp in
                    c.start.withUnsafeBufferPointer { startp in
                        c.count.withUnsafeBufferPointer { countp in
                            let s = sp.baseAddress!, w = wp.baseAddress!, o = out.baseAddress!
                            let starts = startp.baseAddress!, counts = countp.baseAddress!
                            for r in 0..<rowCount {
                                let inRow = s + (rows.lowerBound + r) * width * channels
                                var outPixel = o + r * outW * channels
                                if channels == 3 {
                                    for xx in 0..<outW {
                                        let k = w + xx * taps
                                        var p = inRow + starts[xx] * 3
                                        var s0 = half, s1 = half, s2 = half
                                        switch counts[xx] {
                                        case 2:
                                            let k0 = k[0], k1 = k[1]
                                            s0 = s0 &+ Int32(p[0]) &* k0 &+ Int32(p[3]) &* k1
                                            s1 = s1 &+ Int32(p[1]) &* k0 &+ Int32(p[4]) &* k1
                                            s2 = s2 &+ Int32(p[2]) &* k0 &+ Int32(p[5]) &* k1
                                        case 3:
                                            let k0 = k[0], k1 = k[1], k2 = k[2]
                                            s0 = s0 &+ Int32(p[0]) &* k0 &+ Int32(p[3]) &* k1 &+ Int32(p[6]) &* k2
                                            s1 = s1 &+ Int32(p[1]) &* k0 &+ Int32(p[4]) &* k1 &+ Int32(p[7]) &* k2
                                            s2 = s2 &+ Int32(p[2]) &* k0 &+ Int32(p[5]) &* k1 &+ Int32(p[8]) &* k2
                                        default:
                                            for x in 0..<counts[xx] {
                                                let kx = k[x]
                                                s0 &+= Int32(p[0]) &* kx
                                                s1 &+= Int32(p[1]) &* kx
                                                s2 &+= Int32(p[2]) &* kx
                                                p += 3
                                            }
                                        }
                                        outPixel[0] = clip8(s0)
                                        outPixel[1] = clip8(s1)
                                        outPixel[2] = clip8(s2)
                                        outPixel += 3
                                    }
                                } else {
                                    for xx in 0..<outW {
                                        let k = w + xx * taps
                                        let n = counts[xx]
                                        let p = inRow + starts[xx] * channels
                                        for ch in 0..<channels {
                                            var acc = half
                                            for x in 0..<n { acc &+= Int32(p[x * channels + ch]) &* k[x] }
                                            outPixel[ch] = clip8(acc)
                                        }
                                        outPixel += channels
                                    }
                                }
                            }
                        }
                    }
                }
            }
            initialized = rowCount * outW * channels
        }
    }

    @inline(never)
    static func vertical(_ src: [UInt8], width: Int, channels: Int, rowOffset: Int,
                         coefficients c: Coefficients, outHeight outH: Int) -> [UInt8] {
        let half = Int32(1 << (precisionBits - 1))
        let rowBytes = width * channels
        var acc = [Int32](repeating: 0, count: rowBytes)
        return [UInt8](unsafeUninitializedCapacity: outH * rowBytes) { out, initialized in
            src.withUnsafeBufferPointer { sp in
                c.weights.withUnsafeBufferPointer { wp in
                    acc.withUnsafeMutableBufferPointer { ap in
                        let s = sp.baseAddress!, w = wp.baseAddress!, a = ap.baseAddress!, o = out.baseAddress!
                        for yy in 0..<outH {
                            let k = w + yy * c.taps
                            let first = s + (c.start[yy] - rowOffset) * rowBytes
                            let outRow = o + yy * rowBytes
                            // Fused loops for the short filters of upscaling (no accumulator row).
                            switch c.count[yy] {
                            case 1:
                                let k0 = k[0]
                                for i in 0..<rowBytes { outRow[i] = clip8(half &+ Int32(first[i]) &* k0) }
                            case 2:
                                let k0 = k[0], k1 = k[1], r1 = first + rowBytes
                                for i in 0..<rowBytes {
                                    outRow[i] = clip8(half &+ Int32(first[i]) &* k0 &+ Int32(r1[i]) &* k1)
                                }
                            case 3:
                                let k0 = k[0], k1 = k[1], k2 = k[2], r1 = first + rowBytes, r2 = r1 + rowBytes
                                for i in 0..<rowBytes {
                                    let t = half &+ Int32(first[i]) &* k0 &+ Int32(r1[i]) &* k1
                                    outRow[i] = clip8(t &+ Int32(r2[i]) &* k2)
                                }
                            case 4:
                                let k0 = k[0], k1 = k[1], k2 = k[2], k3 = k[3]
                                let r1 = first + rowBytes, r2 = r1 + rowBytes, r3 = r2 + rowBytes
                                for i in 0..<rowBytes {
                                    let t = half &+ Int32(first[i]) &* k0 &+ Int32(r1[i]) &* k1
                                    outRow[i] = clip8(t &+ Int32(r2[i]) &* k2 &+ Int32(r3[i]) &* k3)
                                }
                            default:
                                for i in 0..<rowBytes { a[i] = half }
                                for y in 0..<c.count[yy] {
                                    let ky = k[y]
                                    let row = first + y * rowBytes
                                    for i in 0..<rowBytes { a[i] &+= Int32(row[i]) &* ky }
                                }
                                for i in 0..<rowBytes { outRow[i] = clip8(a[i]) }
                            }
                        }
                    }
                }
            }
            initialized = outH * rowBytes
        }
    }

    /// PIL's nearest-neighbour resize: source index `floor((x + 0.5) * in / out)`.
    static func nearest(_ src: [UInt8], width: Int, height: Int, channels: Int, toWidth outW: Int, toHeight outH: Int) -> [UInt8] {
        let xs = (0..<outW).map { min(width - 1, Int((Double($0) + 0.5) * Double(width) / Double(outW))) }
        var out = [UInt8](repeating: 0, count: outW * outH * channels)
        for y in 0..<outH {
            let sy = min(height - 1, Int((Double(y) + 0.5) * Double(height) / Double(outH)))
            for x in 0..<outW {
                for ch in 0..<channels { out[(y * outW + x) * channels + ch] = src[(sy * width + xs[x]) * channels + ch] }
            }
        }
        return out
    }
}

extension RGBImage {
    /// This image resized to `width x height` as PIL's `Image.resize((width, height), filter)`.
    public func resized(width outW: Int, height outH: Int, filter: ResampleFilter = .bilinear) -> RGBImage {
        let w = max(0, outW), h = max(0, outH)
        let px = Resampler.resize(pixels, width: width, height: height, channels: 3, toWidth: w, toHeight: h, filter: filter)
        return RGBImage(width: w, height: h, pixels: px)
    }
}

extension MaskStack {
    /// Masks resized with PyTorch's `F.interpolate(mode="nearest")` (source index
    /// `min(floor(x * (in / out)), in - 1)` with the scale in Float), as DETR resizes masks.
    public func resizedNearest(height outH: Int, width outW: Int) -> MaskStack {
        let sx = Float(width) / Float(max(outW, 1)), sy = Float(height) / Float(max(outH, 1))
        let xs = (0..<outW).map { min(Int((Float($0) * sx).rounded(.down)), width - 1) }
        var out = MaskStack(count: count, height: outH, width: outW)
        guard width > 0, height > 0 else { return out }
        for m in 0..<count {
            for y in 0..<outH {
                let syi = min(Int((Float(y) * sy).rounded(.down)), height - 1)
                let inBase = (m * height + syi) * width
                let outBase = (m * outH + y) * outW
                for x in 0..<outW { out.values[outBase + x] = values[inBase + xs[x]] }
            }
        }
        return out
    }
}
