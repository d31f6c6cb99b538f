import Tensor

/// Mask2Former's inference on one image (facebookresearch/Mask2Former's `MaskFormer`
/// semantic, instance and panoptic inference), from the last prediction's class logits
/// [Q, C+1] and mask logits.
public enum Mask2FormerInference {
    /// The official path of the mask logits [Q, h, w] to an output size: bilinear (align_corners
    /// false) to the padded batch size, cropped to the image's size, bilinear to the output size
    /// (`sem_seg_postprocess`). Returns [Q, output height, output width] logits.
    public static func resizedMasks(_ maskLogits: Tensor, paddedSize: (height: Int, width: Int), imageSize: (height: Int, width: Int),
                                    outputSize: (height: Int, width: Int)) -> Tensor {
        precondition(maskLogits.rank == 3 && imageSize.height <= paddedSize.height && imageSize.width <= paddedSize.width,
                     "Mask2FormerInference: masks \(maskLogits.shape), image \(imageSize) in padded \(paddedSize)")
        return withNoGrad {
            let q = maskLogits.shape[0]
            let padded = maskLogits.unsqueeze(0).interpolateBilinear(paddedSize.height, paddedSize.width)
            let cropped = padded.slice(axis: 2, 0..<imageSize.height).slice(axis: 3, 0..<imageSize.width)
            return cropped.interpolateBilinear(outputSize.height, outputSize.width).reshape([q, outputSize.height, outputSize.width])
        }
    }

    /// Semantic scores [C, H, W]: the sum over queries of the class probabilities (softmax
    /// without the "no object" column) times the mask probabilities (sigmoid of `masks` [Q, H, W]).
    public static func semantic(classLogits: Tensor, masks: Tensor) -> Tensor {
        let q = classLogits.shape[0], c = classLogits.shape[1] - 1
        precondition(classLogits.rank == 2 && c >= 1 && masks.rank == 3 && masks.shape[0] == q,
                     "Mask2FormerInference.semantic: class logits \(classLogits.shape), masks \(masks.shape)")
        return withNoGrad {
            let probs = classLogits.softmax(axis: -1).slice(axis: 1, 0..<c)  // [Q, C]
            let h = masks.shape[1], w = masks.shape[2]
            return probs.transpose(0, 1).matmul(masks.sigmoid().reshape([q, h * w])).reshape([c, h, w])
        }
    }

    /// One instance: its class, score and binary mask (row-major, the masks' size).
    public typealias Instance = MaskInstance

    /// The `topK` best (query, class) pairs by class probability (the "no object" column left
    /// out), best first: mask = logit > 0, score = probability x the mean mask probability
    /// inside the mask (sum over the mask / (area + 1e-6)).
    public static func instances(classLogits: Tensor, masks: Tensor, topK: Int = 100) -> [Instance] {
        let q = classLogits.shape[0], c = classLogits.shape[1] - 1
        precondition(classLogits.rank == 2 && c >= 1 && masks.rank == 3 && masks.shape[0] == q,
                     "Mask2FormerInference.instances: class logits \(classLogits.shape), masks \(masks.shape)")
        let probs = withNoGrad { classLogits.softmax(axis: -1).slice(axis: 1, 0..<c).reshape([q * c]) }
        let (values, indices) = probs.topk(Swift.min(topK, q * c))
        let hw = masks.shape[1] * masks.shape[2]
        let sig = withNoGrad { masks.sigmoid() }
        return (0..<values.count).map { k in
            let flat = Int(indices.data[k])
            let query = flat / c
            let logits = masks.data + query * hw, p = sig.data + query * hw
            var mask = [Bool](repeating: false, count: hw)
            var inside: Float = 0, area: Float = 0
            for i in 0..<hw where logits[i] > 0 {
                mask[i] = true
                inside += p[i]
                area += 1
            }
            return Instance(label: flat % c, score: values.data[k] * (inside / (area + 1e-6)), mask: mask)
        }
    }

    /// Panoptic segmentation: queries whose best class is real with probability above
    /// `objectMaskThreshold` are kept; each pixel goes to the kept query of largest probability x
    /// mask probability; a query keeps its pixels only where its mask probability is >= 0.5 and
    /// only when they are at least `overlapThreshold` of its own mask (>= 0.5); the segments of
    /// one stuff class share an id. Ids start at 1 (0: no segment), in query order.
    public static func panoptic(classLogits: Tensor, masks: Tensor, isThing: (Int) -> Bool, objectMaskThreshold: Float = 0.8,
                                overlapThreshold: Float = 0.8) -> PanopticPrediction {
        let q = classLogits.shape[0], c = classLogits.shape[1] - 1
        precondition(classLogits.rank == 2 && c >= 1 && masks.rank == 3 && masks.shape[0] == q,
                     "Mask2FormerInference.panoptic: class logits \(classLogits.shape), masks \(masks.shape)")
        let h = masks.shape[1], w = masks.shape[2], hw = h * w
        let probs = withNoGrad { classLogits.softmax(axis: -1) }
        let sig = withNoGrad { masks.sigmoid() }
        var kept: [(query: Int, label: Int, score: Float)] = []
        for i in 0..<q {
            var best = 0
            for k in 1...c where probs.data[i * (c + 1) + k] > probs.data[i * (c + 1) + best] { best = k }
            let score = probs.data[i * (c + 1) + best]
            if best != c && score > objectMaskThreshold { kept.append((i, best, score)) }
        }
        var ids = [Int32](repeating: 0, count: hw)
        var segments: [PredictedSegment] = []
        guard !kept.isEmpty else { return PanopticPrediction(height: h, width: w, ids: ids, segments: segments) }
        // Each pixel's query: the first largest score x mask probability.
        var owner = [Int](repeating: 0, count: hw)
        for p in 0..<hw {
            var best = 0
            var bv = kept[0].score * sig.data[kept[0].query * hw + p]
            for k in 1..<kept.count {
                let v = kept[k].score * sig.data[kept[k].query * hw + p]
                if v > bv { bv = v; best = k }
            }
            owner[p] = best
        }
        var stuffIds: [Int: Int32] = [:]
        var next: Int32 = 0
        for (k, s) in kept.enumerated() {
            let m = sig.data + s.query * hw
            var ownedArea = 0, originalArea = 0, maskArea = 0
            for p in 0..<hw {
                let inMask = m[p] >= 0.5
                if owner[p] == k { ownedArea += 1 }
                if inMask { originalArea += 1 }
                if owner[p] == k && inMask { maskArea += 1 }
            }
            guard ownedArea > 0, originalArea > 0, maskArea > 0 else { continue }
            if Float(ownedArea) / Float(originalArea) < overlapThreshold { continue }
            let thing = isThing(s.label)
            let id: Int32
            if !thing, let existing = stuffIds[s.label] {
                id = existing
            } else {
                next += 1
                id = next
                if !thing { stuffIds[s.label] = id }
                segments.append(PredictedSegment(id: Int(id), isThing: thing, categoryId: s.label, area: 0))
            }
            for p in 0..<hw where owner[p] == k && m[p] >= 0.5 { ids[p] = id }
        }
        var area = [Int](repeating: 0, count: Int(next) + 1)
        for v in ids { area[Int(v)] += 1 }
        for i in segments.indices { segments[i].area = area[segments[i].id] }
        return PanopticPrediction(height: h, width: w, ids: ids, segments: segments)
    }
}
