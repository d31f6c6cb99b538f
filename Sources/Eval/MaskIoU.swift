import Datasets

/// Intersection over union with pycocotools' semantics (maskApi.c bbIou / rleIou): against a
/// crowd ground truth the "union" is the detection's own area, so a detection inside a crowd
/// region scores 1 however small it is.
public enum MaskIoU {
    /// IoU of two `xywh` boxes in double precision, in maskApi's operation order.
    @inlinable @inline(__always)
    public static func box(_ d: COCOBox, _ g: COCOBox, crowd: Bool) -> Double {
        let w = min(d.width + d.x, g.width + g.x) - max(d.x, g.x)
        if w <= 0 { return 0 }
        let h = min(d.height + d.y, g.height + g.y) - max(d.y, g.y)
        if h <= 0 { return 0 }
        let i = w * h
        let da = d.width * d.height
        let u = crowd ? da : da + g.width * g.height - i
        return i / u
    }

    /// IoU of two masks; `dBox` and `gBox` are their `boundingBox`es (a zero box IoU skips the
    /// run walk, as maskApi does). Masks of different sizes give -1, as maskApi does.
    @inlinable
    public static func mask(_ d: RLE, _ g: RLE, crowd: Bool, dBox: COCOBox, gBox: COCOBox) -> Double {
        if box(dBox, gBox, crowd: crowd) <= 0 { return 0 }
        if d.height != g.height || d.width != g.width { return -1 }
        return d.counts.withUnsafeBufferPointer { dc in
            g.counts.withUnsafeBufferPointer { gc in
                runIoU(dc, gc, crowd: crowd)
            }
        }
    }

    @usableFromInline
    static func runIoU(_ dc: UnsafeBufferPointer<UInt32>, _ gc: UnsafeBufferPointer<UInt32>, crowd: Bool) -> Double {
        let ka = dc.count, kb = gc.count
        if ka == 0 || kb == 0 { return 0 }
        var ca = dc[0], cb = gc[0]
        var va = false, vb = false
        var a = 1, b = 1
        var i: UInt32 = 0, u: UInt32 = 0
        var ct: UInt32 = 1
        while ct > 0 {
            let c = min(ca, cb)
            if va || vb {
                u &+= c
                if va && vb { i &+= c }
            }
            ct = 0
            ca &-= c
            if ca == 0 && a < ka { ca = dc[a]; a += 1; va.toggle() }
            ct &+= ca
            cb &-= c
            if cb == 0 && b < kb { cb = gc[b]; b += 1; vb.toggle() }
            ct &+= cb
        }
        if i == 0 {
            u = 1
        } else if crowd {
            u = 0
            var j = 1
            while j < ka { u &+= dc[j]; j += 2 }
        }
        return Double(i) / Double(u)
    }

    /// pycocotools' `iou(dt, gt, iscrowd)` on boxes: `[dt.count][gt.count]`.
    public static func boxes(_ dt: [COCOBox], _ gt: [COCOBox], isCrowd: [Bool]) -> [[Double]] {
        dt.map { d in gt.indices.map { box(d, gt[$0], crowd: $0 < isCrowd.count && isCrowd[$0]) } }
    }

    /// pycocotools' `iou(dt, gt, iscrowd)` on masks: `[dt.count][gt.count]`.
    public static func masks(_ dt: [RLE], _ gt: [RLE], isCrowd: [Bool]) -> [[Double]] {
        let db = dt.map(\.boundingBox), gb = gt.map(\.boundingBox)
        return dt.indices.map { d in gt.indices.map { mask(dt[d], gt[$0], crowd: $0 < isCrowd.count && isCrowd[$0], dBox: db[d], gBox: gb[$0]) } }
    }
}
