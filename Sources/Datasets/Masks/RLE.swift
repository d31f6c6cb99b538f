/// A binary mask as run lengths, with pycocotools' semantics (maskApi.c): pixels in
/// column-major (Fortran) order, runs alternate 0s and 1s starting with 0s (the first run may
/// be empty). `counts` sums to `height * width` for a valid mask.
public struct RLE: Equatable, Sendable {
    public var height: Int
    public var width: Int
    public var counts: [UInt32]

    public init(height: Int, width: Int, counts: [UInt32]) {
        self.height = height
        self.width = width
        self.counts = counts
    }

    /// Encodes a column-major mask of `height * width` bytes (non-zero = inside), as
    /// pycocotools' `encode` on a Fortran-ordered array.
    public init(columnMajorMask mask: [UInt8], height: Int, width: Int) {
        var counts: [UInt32] = []
        var previous: UInt8 = 0
        var run: UInt32 = 0
        for v in mask.prefix(max(0, height) * max(0, width)) {
            let b: UInt8 = v != 0 ? 1 : 0
            if b != previous {
                counts.append(run)
                run = 0
                previous = b
            }
            run += 1
        }
        counts.append(run)
        self.init(height: height, width: width, counts: counts)
    }

    /// Encodes a row-major mask (`mask[y * width + x]`), the layout images use.
    /// Pixels missing from a short `mask` are outside; negative sizes count as 0.
    public init(rowMajorMask mask: [UInt8], height: Int, width: Int) {
        let height = max(0, height), width = max(0, width)
        var columnMajor = [UInt8](repeating: 0, count: height * width)
        for y in 0..<height {
            for x in 0..<width where y * width + x < mask.count && mask[y * width + x] != 0 { columnMajor[x * height + y] = 1 }
        }
        self.init(columnMajorMask: columnMajor, height: height, width: width)
    }

    /// The mask, column-major, one byte (0 or 1) per pixel; runs past `height * width` are cut.
    public func decodeColumnMajor() -> [UInt8] {
        let n = max(0, height) * max(0, width)
        var out = [UInt8](repeating: 0, count: n)
        var p = 0
        var v: UInt8 = 0
        for c in counts {
            let stop = min(n, p + Int(c))
            if v == 1 { for i in p..<stop { out[i] = 1 } }
            p = stop
            v ^= 1
        }
        return out
    }

    /// The mask, row-major.
    public func decodeRowMajor() -> [UInt8] {
        let cm = decodeColumnMajor()
        let height = max(0, self.height), width = max(0, self.width)
        var out = [UInt8](repeating: 0, count: height * width)
        for x in 0..<width {
            for y in 0..<height where cm[x * height + y] != 0 { out[y * width + x] = 1 }
        }
        return out
    }

    /// Number of pixels inside (the sum of the odd runs), as pycocotools' `area` (a uint32 there).
    public var area: UInt32 {
        var a: UInt32 = 0
        var j = 1
        while j < counts.count {
            a &+= counts[j]
            j += 2
        }
        return a
    }

    /// The tight box `[x, y, w, h]` of the mask, as maskApi's rleToBbox (including its rule that
    /// a run crossing a column boundary spans the whole height). Zeros for an empty mask.
    public var boundingBox: COCOBox {
        let h = UInt32(truncatingIfNeeded: height), w = UInt32(truncatingIfNeeded: width)
        let m = (counts.count / 2) * 2
        if m == 0 || h == 0 { return COCOBox(x: 0, y: 0, width: 0, height: 0) }
        var xs = w, ys = h, xe: UInt32 = 0, ye: UInt32 = 0, cc: UInt32 = 0, xp: UInt32 = 0
        for j in 0..<m {
            cc &+= counts[j]
            let t = cc &- UInt32(j % 2)
            let y = t % h
            let x = (t &- y) / h
            if j % 2 == 0 {
                xp = x
            } else if xp < x {
                ys = 0
                ye = h &- 1
            }
            xs = min(xs, x); xe = max(xe, x); ys = min(ys, y); ye = max(ye, y)
        }
        return COCOBox(x: Double(xs), y: Double(ys), width: Double(xe &- xs &+ 1), height: Double(ye &- ys &+ 1))
    }

    /// Union (or intersection) of masks, as pycocotools' `merge`. Masks of different sizes give
    /// an empty 0x0 mask, as maskApi does.
    public static func merge(_ rles: [RLE], intersect: Bool = false) -> RLE {
        guard let firstRLE = rles.first else { return RLE(height: 0, width: 0, counts: []) }
        if rles.count == 1 { return firstRLE }
        let h = firstRLE.height, w = firstRLE.width
        var acc = firstRLE.counts
        var out: [UInt32] = []
        out.reserveCapacity(acc.count * 2)
        for i in 1..<rles.count {
            let b = rles[i]
            if b.height != h || b.width != w { return RLE(height: 0, width: 0, counts: []) }
            out.removeAll(keepingCapacity: true)
            let A = acc, B = b.counts
            var ca: UInt32 = A.first ?? 0, cb: UInt32 = B.first ?? 0
            var va = false, vb = false, v = false
            var a = 1, bi = 1
            var cc: UInt32 = 0
            var ct: UInt32 = 1
            while ct > 0 {
                let c = min(ca, cb)
                cc &+= c
                ct = 0
                ca &-= c
                if ca == 0 && a < A.count { ca = A[a]; a += 1; va.toggle() }
                ct &+= ca
                cb &-= c
                if cb == 0 && bi < B.count { cb = B[bi]; bi += 1; vb.toggle() }
                ct &+= cb
                let vp = v
                v = intersect ? (va && vb) : (va || vb)
                if v != vp || ct == 0 {
                    out.append(cc)
                    cc = 0
                }
            }
            acc = out
        }
        return RLE(height: h, width: w, counts: acc)
    }

    // MARK: compressed string (pycocotools' `counts` string)

    /// pycocotools' compressed form: LEB128-like, 5 bits per character in ASCII 48...111, each
    /// count after the second stored as the difference to the count two before.
    public var compressedString: String {
        String(decoding: compressedBytes, as: UTF8.self)
    }

    public var compressedBytes: [UInt8] {
        var s: [UInt8] = []
        s.reserveCapacity(counts.count * 2)
        for i in 0..<counts.count {
            var x = Int64(counts[i])
            if i > 2 { x -= Int64(counts[i - 2]) }
            var more = true
            while more {
                var c = UInt8(truncatingIfNeeded: x & 0x1f)
                x >>= 5
                more = (c & 0x10) != 0 ? x != -1 : x != 0
                if more { c |= 0x20 }
                s.append(c + 48)
            }
        }
        return s
    }

    /// Decodes pycocotools' compressed string. Invalid characters (outside 48...111) or a
    /// truncated final count give nil.
    public init?(compressed bytes: [UInt8], height: Int, width: Int) {
        var counts: [UInt32] = []
        counts.reserveCapacity(bytes.count)
        var p = 0
        while p < bytes.count {
            var x: Int64 = 0
            var k: Int64 = 0
            var more = true
            while more {
                guard p < bytes.count, bytes[p] >= 48, bytes[p] <= 111, k < 12 else { return nil }
                let c = Int64(bytes[p] - 48)
                x |= (c & 0x1f) << (5 * k)
                more = (c & 0x20) != 0
                p += 1
                k += 1
                if !more && (c & 0x10) != 0 { x |= -1 << (5 * k) }
            }
            if counts.count > 2 { x += Int64(counts[counts.count - 2]) }
            counts.append(UInt32(truncatingIfNeeded: x))
        }
        self.init(height: height, width: width, counts: counts)
    }

    public init?(compressed string: String, height: Int, width: Int) {
        self.init(compressed: Array(string.utf8), height: height, width: width)
    }
}
