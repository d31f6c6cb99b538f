#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension RLE {
    /// Rasterises a polygon `[x0, y0, x1, y1, ...]` exactly as pycocotools' `frPyObjects`
    /// (maskApi.c rleFrPoly): vertices are scaled by 5 and rounded, the outline is walked
    /// densely, its crossings of pixel-column centres are kept and turned into run boundaries.
    /// A pixel is inside when its centre is. An odd trailing coordinate is ignored.
    public init(polygon xy: [Double], height: Int, width: Int) {
        let k = xy.count / 2
        let h = max(0, height), w = max(0, width)
        let scale = 5.0
        // C's (int) cast truncates toward zero; clamp first so that a wild coordinate cannot trap.
        @inline(__always) func toInt(_ v: Double) -> Int {
            if v.isNaN { return 0 }
            return Int(min(max(v, -1e9), 1e9))
        }
        var x = [Int](repeating: 0, count: k + 1), y = [Int](repeating: 0, count: k + 1)
        for j in 0..<k {
            x[j] = toInt(scale * xy[2 * j] + 0.5)
            y[j] = toInt(scale * xy[2 * j + 1] + 0.5)
        }
        if k > 0 { x[k] = x[0]; y[k] = y[0] }
        var total = 0
        for j in 0..<k { total += max(abs(x[j] - x[j + 1]), abs(y[j] - y[j + 1])) + 1 }
        // A wild coordinate would walk billions of points (pycocotools would try to allocate
        // them); give an empty mask instead.
        if total > 100_000_000 {
            self.init(height: h, width: w, counts: [UInt32(truncatingIfNeeded: h * w)])
            return
        }
        // Walk the outline point by point (maskApi stores every point, then scans consecutive
        // pairs; streaming the pairs gives the same boundary points without the arrays).
        let wMinus1 = w == 0 ? Double(UInt64.max) : Double(w - 1)
        let hD = Double(h)
        var a: [UInt32] = []
        a.reserveCapacity(total / 4 + 1)
        var havePrevious = false
        var pu = 0, pv = 0
        @inline(__always) func visit(_ uj: Int, _ vj: Int) {
            defer { pu = uj; pv = vj; havePrevious = true }
            guard havePrevious, uj != pu else { return }
            // maskApi: xd = (c + .5) / 5 - .5, kept when it is a whole number in [0, w - 1].
            // For |c| < 2^50 that is exactly c = 5 n + 2 with xd = n (no floor call needed).
            let c = uj < pu ? uj : uj - 1
            guard c >= 2, (c - 2) % 5 == 0 else { return }
            let xi = (c - 2) / 5
            if Double(xi) > wMinus1 { return }
            var yd = Double(vj < pv ? vj : pv)
            yd = (yd + 0.5) / scale - 0.5
            if yd < 0 { yd = 0 } else if yd > hD { yd = hD }
            yd = yd.rounded(.up)
            a.append(UInt32(truncatingIfNeeded: xi * h + Int(yd)))
        }
        for j in 0..<k {
            var xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1]
            let dx = abs(xe - xs), dy = abs(ys - ye)
            let flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye)
            if flip { swap(&xs, &xe); swap(&ys, &ye) }
            let s = dx >= dy ? Double(ye - ys) / Double(dx) : Double(xe - xs) / Double(dy)
            if dx >= dy {
                for d in 0...dx {
                    let t = flip ? dx - d : d
                    visit(t + xs, toInt(Double(ys) + s * Double(t) + 0.5))
                }
            } else {
                for d in 0...dy {
                    let t = flip ? dy - d : d
                    visit(toInt(Double(xs) + s * Double(t) + 0.5), t + ys)
                }
            }
        }
        a.append(UInt32(truncatingIfNeeded: h * w))
        a.sort()
        var p: UInt32 = 0
        for j in 0..<a.count {
            let t = a[j]
            a[j] &-= p
            p = t
        }
        var b: [UInt32] = []
        b.reserveCapacity(a.count)
        var j = 0
        b.append(a[j]); j += 1
        while j < a.count {
            if a[j] > 0 {
                b.append(a[j]); j += 1
            } else {
                j += 1
                if j < a.count { b[b.count - 1] &+= a[j]; j += 1 }
            }
        }
        self.init(height: h, width: w, counts: b)
    }

    /// A box `[x, y, w, h]` rasterised as its four-corner polygon (maskApi rleFrBbox).
    public init(box: COCOBox, height: Int, width: Int) {
        let xs = box.x, xe = box.x + box.width
        let ys = box.y, ye = box.y + box.height
        self.init(polygon: [xs, ys, xs, ye, xe, ye, xe, ys], height: height, width: width)
    }

    /// The mask of a COCO segmentation on an image of `height` x `width`, as pycocotools'
    /// `COCO.annToRLE`: polygons are rasterised and merged; an RLE keeps its own `size`.
    ///
    /// pycocotools quirk, matched: when the first polygon has exactly 4 numbers, `frPyObjects`
    /// takes the whole list for boxes `[x, y, w, h]`. An empty polygon list gives an empty mask
    /// (pycocotools raises an IndexError). Nil for a compressed string that does not decode.
    public init?(segmentation: COCOSegmentation, height: Int, width: Int) {
        switch segmentation {
        case let .polygons(polys):
            if polys.isEmpty {
                self.init(height: height, width: width, counts: [UInt32(truncatingIfNeeded: max(0, height) * max(0, width))])
                return
            }
            var parts: [RLE] = []
            parts.reserveCapacity(polys.count)
            if polys[0].count == 4 {
                for p in polys {
                    guard p.count == 4 else { return nil }
                    parts.append(RLE(box: COCOBox(x: p[0], y: p[1], width: p[2], height: p[3]), height: height, width: width))
                }
            } else {
                for p in polys { parts.append(RLE(polygon: p, height: height, width: width)) }
            }
            self = RLE.merge(parts)
        case let .uncompressedRLE(h, w, counts):
            self.init(height: h, width: w, counts: counts)
        case let .compressedRLE(h, w, bytes):
            self.init(compressed: bytes, height: h, width: w)
        }
    }
}
