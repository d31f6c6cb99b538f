import Tensor

/// Instance masks of one image, after DETR's PostProcessSegm: [queries] binary masks at the
/// original image size, row-major.
public struct InstanceMasks: Sendable {
    public var height: Int
    public var width: Int
    /// One mask per query: `height * width` booleans.
    public var masks: [[Bool]]
}

/// DETR's PostProcessSegm: mask logits [B, Q, h, w] are resized bilinearly (align_corners
/// false) to the largest processed size of the batch, thresholded after a sigmoid, cropped to
/// each image's processed size and resized (nearest, PyTorch's rule) to its original size.
public func postProcessSegmentation(masks: Tensor, processedSizes: [(height: Int, width: Int)],
                                    originalSizes: [(height: Int, width: Int)], threshold: Float = 0.5) -> [InstanceMasks] {
    precondition(masks.rank == 4 && masks.shape[0] == processedSizes.count && processedSizes.count == originalSizes.count,
                 "postProcessSegmentation: masks \(masks.shape) for \(processedSizes.count) sizes")
    let maxH = processedSizes.map { $0.height }.max() ?? 0, maxW = processedSizes.map { $0.width }.max() ?? 0
    let up = withNoGrad { masks.interpolateBilinear(maxH, maxW).sigmoid() }
    let q = masks.shape[1]
    var out: [InstanceMasks] = []
    for (i, (proc, orig)) in zip(processedSizes, originalSizes).enumerated() {
        let sy = Float(proc.height) / Float(orig.height), sx = Float(proc.width) / Float(orig.width)
        let ys = (0..<orig.height).map { Swift.min(Int((Float($0) * sy).rounded(.down)), proc.height - 1) }
        let xs = (0..<orig.width).map { Swift.min(Int((Float($0) * sx).rounded(.down)), proc.width - 1) }
        var list: [[Bool]] = []
        for k in 0..<q {
            let base = up.data + ((i * q + k) * maxH) * maxW
            var m = [Bool](repeating: false, count: orig.height * orig.width)
            for y in 0..<orig.height {
                for x in 0..<orig.width { m[y * orig.width + x] = base[ys[y] * maxW + xs[x]] > threshold }
            }
            list.append(m)
        }
        out.append(InstanceMasks(height: orig.height, width: orig.width, masks: list))
    }
    return out
}

/// One segment of a panoptic prediction.
public struct PredictedSegment: Equatable, Sendable {
    public var id: Int
    public var isThing: Bool
    public var categoryId: Int
    public var area: Int

    public init(id: Int, isThing: Bool, categoryId: Int, area: Int) {
        self.id = id
        self.isThing = isThing
        self.categoryId = categoryId
        self.area = area
    }
}

/// A panoptic prediction: segment ids per pixel (row-major, at the target size) and the
/// segments; `rgb` gives the COCO panoptic PNG colours (id = R + 256 G + 256^2 B).
public struct PanopticPrediction: Sendable {
    public var height: Int
    public var width: Int
    public var ids: [Int32]
    public var segments: [PredictedSegment]

    public init(height: Int, width: Int, ids: [Int32], segments: [PredictedSegment]) {
        self.height = height
        self.width = width
        self.ids = ids
        self.segments = segments
    }

    public var rgb: [UInt8] {
        var out = [UInt8](repeating: 0, count: ids.count * 3)
        for (i, v) in ids.enumerated() {
            let id = Int(v)
            out[3 * i] = UInt8(id % 256)
            out[3 * i + 1] = UInt8((id / 256) % 256)
            out[3 * i + 2] = UInt8((id / 65536) % 256)
        }
        return out
    }
}

/// DETR's PostProcessPanoptic for one image: queries whose best class is real and scores above
/// `threshold` are kept; their masks, resized bilinearly to the processed size, compete per
/// pixel (argmax of the softmax over queries); the masks of one stuff class are merged; the id
/// map is resized to the target size with PIL's nearest rule (source floor((x + 0.5) * scale));
/// segments of 4 pixels or fewer are dropped and the map recomputed, repeatedly.
///
/// Matches the reference's quirk: after a drop the recomputed map no longer merges stuff masks.
public func postProcessPanoptic(logits: Tensor, masks: Tensor, isThing: (Int) -> Bool, processedSize: (height: Int, width: Int),
                                targetSize: (height: Int, width: Int)? = nil, threshold: Float = 0.85) -> PanopticPrediction {
    precondition(logits.rank == 2 && masks.rank == 3 && masks.shape[0] == logits.shape[0],
                 "postProcessPanoptic: logits \(logits.shape) and masks \(masks.shape) of one image")
    let target = targetSize ?? processedSize
    let noObject = logits.shape[1] - 1
    let probs = withNoGrad { logits.softmax(axis: -1) }
    let scores = probs.max(axis: -1).scalars
    let labels = probs.argmax(axis: -1).scalars.map { Int($0) }
    var keep: [Int] = []
    for i in 0..<labels.count where labels[i] != noObject && scores[i] > threshold { keep.append(i) }
    var classes = keep.map { labels[$0] }
    let h = processedSize.height, w = processedSize.width
    var kept: Tensor? = keep.isEmpty ? nil : withNoGrad {
        masks.indexSelect(axis: 0, keep).unsqueeze(1).interpolateBilinear(h, w).reshape([keep.count, h * w])
    }
    var stuffGroups: [Int: [Int]] = [:]
    for (k, c) in classes.enumerated() where !isThing(c) { stuffGroups[c, default: []].append(k) }

    func idsAndAreas(_ m: Tensor?, count: Int, dedup: Bool) -> ([Int32], [Int]) {
        var idMap = [Int32](repeating: 0, count: h * w)
        if let m, count > 0 {
            // Softmax over the queries of each pixel, then the first maximum.
            let sm = withNoGrad { m.transpose(0, 1).softmax(axis: -1) }  // [h*w, count]
            for p in 0..<(h * w) {
                var best = 0
                var bv = sm.data[p * count]
                for k in 1..<count where sm.data[p * count + k] > bv { bv = sm.data[p * count + k]; best = k }
                idMap[p] = Int32(best)
            }
            if dedup {
                for group in stuffGroups.values where group.count > 1 {
                    let first = Int32(group[0])
                    for k in group { for p in 0..<idMap.count where idMap[p] == Int32(k) { idMap[p] = first } }
                }
            }
        }
        // Resize to the target size with PIL's nearest rule: PIL walks the affine map by adding
        // the scale to a running source coordinate that starts at scale / 2 (in Double), and
        // truncates; the running sum is reproduced so that boundary pixels agree exactly.
        let th = target.height, tw = target.width
        var resized = [Int32](repeating: 0, count: th * tw)
        let sy = Double(h) / Double(th), sx = Double(w) / Double(tw)
        var xs = [Int](repeating: 0, count: tw)
        var xx = sx * 0.5
        for x in 0..<tw {
            xs[x] = Swift.min(Int(xx), w - 1)
            xx += sx
        }
        var yy = sy * 0.5
        for y in 0..<th {
            let iy = Swift.min(Int(yy), h - 1)
            yy += sy
            for x in 0..<tw { resized[y * tw + x] = idMap[iy * w + xs[x]] }
        }
        var area = [Int](repeating: 0, count: count)
        for v in resized where Int(v) < count { area[Int(v)] += 1 }
        return (resized, area)
    }

    var (ids, area) = idsAndAreas(kept, count: classes.count, dedup: true)

    if !classes.isEmpty {
        while true {
            let small = area.enumerated().filter { $0.element <= 4 }.map { $0.offset }
            if small.isEmpty { break }
            let survivors = (0..<classes.count).filter { !small.contains($0) }
            classes = survivors.map { classes[$0] }
            kept = survivors.isEmpty ? nil : withNoGrad { kept!.indexSelect(axis: 0, survivors) }
            (ids, area) = idsAndAreas(kept, count: classes.count, dedup: false)

            if classes.isEmpty { break }
        }
    }
    let segments = area.enumerated().map { i, a in
        PredictedSegment(id: i, isThing: isThing(classes[i]), categoryId: classes[i], area: a)
    }
    return PanopticPrediction(height: target.height, width: target.width, ids: ids, segments: segments)
}
