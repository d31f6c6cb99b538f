import Datasets

/// Colour jitter in HSV with per-channel gains, the reference training transform's method:
/// convert RGB to OpenCV's 8-bit HSV (H in 0..<180, S and V in 0...255), map each channel
/// through a 256-entry lookup table (`(x * gh) % 180`, `clip(x * gs)`, `clip(x * gv)`,
/// truncated to bytes), convert back. The 8-bit conversions follow OpenCV's `cvtColor`:
/// RGB->HSV with its fixed-point 12-bit division tables (identical to OpenCV 5.0 on the
/// fixture), HSV->RGB in Float rounded to nearest as OpenCV 4's `HSV2RGB_b` describes it;
/// OpenCV 5.0 rounds some values the other way, so results agree within one grey level
/// (about 15% of the bytes of the fixture differ by 1), not exactly.
public enum HSVJitter {
    static let shift = 12
    static let saturationDivision: [Int32] = (0..<256).map { $0 == 0 ? 0 : Int32((Double(255 << shift) / Double($0)).rounded(.toNearestOrEven)) }
    static let hueDivision: [Int32] = (0..<256).map { $0 == 0 ? 0 : Int32((Double(180 << shift) / (6.0 * Double($0))).rounded(.toNearestOrEven)) }

    /// The three lookup tables for gains `(hue, saturation, value)`.
    public static func tables(gains r: (Double, Double, Double)) -> (hue: [UInt8], saturation: [UInt8], value: [UInt8]) {
        var hue = [UInt8](repeating: 0, count: 256), sat = hue, val = hue
        for x in 0..<256 {
            let fx = Double(x)
            let h = (fx * r.0).truncatingRemainder(dividingBy: 180)
            hue[x] = UInt8(truncatingIfNeeded: Int(h < 0 ? h + 180 : h))
            sat[x] = UInt8(min(max(fx * r.1, 0), 255))
            val[x] = UInt8(min(max(fx * r.2, 0), 255))
        }
        return (hue, sat, val)
    }

    /// OpenCV's 8-bit RGB -> HSV of one pixel.
    @inline(__always)
    static func toHSV(_ r: Int32, _ g: Int32, _ b: Int32) -> (Int32, Int32, Int32) {
        let v = max(r, g, b)
        let vmin = min(r, g, b)
        let diff = v - vmin
        let half = Int32(1 << (shift - 1))
        let s = (diff &* saturationDivision[Int(v)] &+ half) >> Int32(shift)
        var h: Int32
        if v == r {
            h = g - b
        } else if v == g {
            h = b - r + 2 * diff
        } else {
            h = r - g + 4 * diff
        }
        h = (h &* hueDivision[Int(diff)] &+ half) >> Int32(shift)
        if h < 0 { h += 180 }
        return (h, s, v)
    }

    @inline(__always)
    static func byte(_ x: Float) -> UInt8 {
        let r = (x * 255).rounded(.toNearestOrEven)
        return r <= 0 ? 0 : (r >= 255 ? 255 : UInt8(r))
    }

    /// OpenCV's 8-bit HSV -> RGB of one pixel (H in 0..<180).
    @inline(__always)
    static func toRGB(_ h8: UInt8, _ s8: UInt8, _ v8: UInt8) -> (UInt8, UInt8, UInt8) {
        let s = Float(s8) * (1 / 255 as Float), v = Float(v8) * (1 / 255 as Float)
        if s == 0 {
            let b = byte(v)
            return (b, b, b)
        }
        var h = Float(h8) * (6 / 180 as Float)
        h = h.truncatingRemainder(dividingBy: 6)
        if h < 0 { h += 6 }
        var sector = Int(h.rounded(.down))
        h -= Float(sector)
        if sector < 0 || sector >= 6 {
            sector = 0
            h = 0
        }
        let t0 = v, t1 = v * (1 - s), t2 = v * (1 - s * h), t3 = v * (1 - s * (1 - h))
        // (r, g, b) per sector.
        switch sector {
        case 0: return (byte(t0), byte(t3), byte(t1))
        case 1: return (byte(t2), byte(t0), byte(t1))
        case 2: return (byte(t1), byte(t0), byte(t3))
        case 3: return (byte(t1), byte(t2), byte(t0))
        case 4: return (byte(t3), byte(t1), byte(t0))
        default: return (byte(t0), byte(t1), byte(t2))
        }
    }

    /// Applies gains `(hue, saturation, value)` to an image (boxes are unaffected).
    public static func apply(_ image: RGBImage, gains: (Double, Double, Double)) -> RGBImage {
        let t = tables(gains: gains)
        var out = image
        let n = image.width * image.height
        guard n > 0 else { return image }
        out.pixels.withUnsafeMutableBufferPointer { p in
            for i in 0..<n {
                let (h, s, v) = toHSV(Int32(p[3 * i]), Int32(p[3 * i + 1]), Int32(p[3 * i + 2]))
                let (r, g, b) = toRGB(t.hue[Int(h)], t.saturation[Int(s)], t.value[Int(v)])
                p[3 * i] = r
                p[3 * i + 1] = g
                p[3 * i + 2] = b
            }
        }
        return out
    }
}
