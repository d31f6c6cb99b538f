// VOC mAP with the Cartucho/mAP algorithm (the metric of get_map.py in the detr-pytorch
// family), reimplemented from its description:
//
// - classes: those with at least one non-difficult ground-truth object, sorted by their bytes;
//   detections of other classes are counted but take no part in the mAP;
// - per class, all detections of all images sorted by score, highest first, ties in file
//   order (a stable sort); each is matched against the ground truth of its class in its image:
//   the object of largest IoU (first one on ties, difficult objects included) with IoU computed
//   with the +1 pixel convention (width = right - left + 1);
// - IoU >= minOverlap with a difficult object: ignored (neither TP nor FP); with a fresh object:
//   TP and the object is used; with a used object: FP (a repeated match); below: FP;
// - recall = cumTP / max(nGT, 1), precision = cumTP / max(cumTP + cumFP, 1);
// - AP: all-point interpolation (VOC2010+): the area under the precision envelope at each
//   recall change, or the 11-point average (VOC2007) over recall 0, 0.1, ..., 1;
// - mAP: the mean of the class APs.
//
// Boxes are not clipped to the image: a box with bottom beyond the image is used as written.
//
// Precision, recall and F1 "at the score threshold" are those of the detections with score >=
// the threshold. Where no detection of a class reaches it they are 0; the reference reports the
// values at its top-scoring detection then (its index starts at 0 and is never moved), which
// reads as if that detection passed the threshold. That is the one deliberate difference.

/// Options of the VOC metric.
public struct VOCMapOptions: Sendable {
    /// The IoU a detection needs to match (`MINOVERLAP`).
    public var minOverlap: Double = 0.5
    /// Precision, recall and F1 are reported over the detections with score >= this.
    public var scoreThreshold: Double = 0.5
    /// VOC2007's 11-point interpolated AP instead of the all-point area.
    public var elevenPoint: Bool = false

    public init(minOverlap: Double = 0.5, scoreThreshold: Double = 0.5, elevenPoint: Bool = false) {
        self.minOverlap = minOverlap
        self.scoreThreshold = scoreThreshold
        self.elevenPoint = elevenPoint
    }
}

/// The result of one class (a class with ground truth).
public struct VOCClassResult: Sendable {
    public var name: String
    public var ap: Double
    /// Non-difficult ground-truth objects.
    public var groundTruthCount: Int
    /// Detections of this class (all of them, as the reference counts them).
    public var detectionCount: Int
    /// True positives over all detections.
    public var truePositives: Int
    /// False positives over all detections (detections matched to difficult objects are neither).
    public var falsePositives: Int
    /// Per sorted detection: its score and the cumulative precision, recall and F1.
    public var scores: [Double]
    public var precision: [Double]
    public var recall: [Double]
    public var f1: [Double]
    /// The envelope used for the all-point AP: recall with 0 and 1 added, precision made
    /// monotone (both `detectionCount + 2` long).
    public var envelopeRecall: [Double]
    public var envelopePrecision: [Double]
    /// Detections with score >= the threshold (they are the first ones in sorted order).
    public var countAboveThreshold: Int
    /// Precision, recall and F1 at the score threshold (of the detections with score >= it);
    /// 0 when no detection reaches it.
    public var precisionAtThreshold: Double
    public var recallAtThreshold: Double
    public var f1AtThreshold: Double
}

/// The result of a whole evaluation.
public struct VOCMapResult: Sendable {
    public var options: VOCMapOptions
    /// Classes with ground truth, sorted by their bytes.
    public var classes: [VOCClassResult]
    public var mAP: Double
    /// Every detected class name (with or without ground truth) and its detection count.
    public var detectionCounts: [String: Int]
    /// Non-difficult ground-truth objects per class.
    public var groundTruthCounts: [String: Int]
    /// Number of images (ground-truth files).
    public var imageCount: Int

    /// Detected class names that have no ground truth (they take no part in the mAP), sorted.
    public var classesWithoutGroundTruth: [String] {
        let gt = Set(groundTruthCounts.keys)
        return detectionCounts.keys.filter { !gt.contains($0) }.sorted(by: utf8Less)
    }
}

/// Sorts names by their UTF-8 bytes (Python's sort of `str`, code point order).
@inline(__always)
func utf8Less(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

public enum VOCMap {
    /// Evaluates detections against ground truth. `progress(done, total)` is called after each
    /// class.
    public static func evaluate(_ input: VOCMapInput, options: VOCMapOptions = VOCMapOptions(),
                                progress: ((Int, Int) -> Void)? = nil) -> VOCMapResult {
        // Ground-truth counts (non-difficult only) define the classes.
        var gtCounts: [String: Int] = [:]
        for objects in input.groundTruth {
            for o in objects where !o.difficult { gtCounts[o.className, default: 0] += 1 }
        }
        var detCounts: [String: Int] = [:]
        for dets in input.detections {
            for d in dets { detCounts[d.className, default: 0] += 1 }
        }
        let classNames = gtCounts.keys.sorted(by: utf8Less)

        // Group detections and ground truth by class once: (image index, detection index).
        var detectionsByClass: [String: [(image: Int, index: Int)]] = [:]
        for (i, dets) in input.detections.enumerated() {
            for (j, d) in dets.enumerated() where gtCounts[d.className] != nil {
                detectionsByClass[d.className, default: []].append((i, j))
            }
        }

        var results: [VOCClassResult] = []
        results.reserveCapacity(classNames.count)
        var sumAP = 0.0
        for (k, name) in classNames.enumerated() {
            let r = evaluateClass(name, input: input, detections: detectionsByClass[name] ?? [],
                                  groundTruthCount: gtCounts[name] ?? 0, detectionCount: detCounts[name] ?? 0,
                                  options: options)
            sumAP += r.ap
            results.append(r)
            progress?(k + 1, classNames.count)
        }
        let mAP = classNames.isEmpty ? 0 : sumAP / Double(classNames.count)
        return VOCMapResult(options: options, classes: results, mAP: mAP, detectionCounts: detCounts,
                            groundTruthCounts: gtCounts, imageCount: input.imageIDs.count)
    }

    static func evaluateClass(_ name: String, input: VOCMapInput, detections refs: [(image: Int, index: Int)],
                              groundTruthCount nGT: Int, detectionCount: Int,
                              options: VOCMapOptions) -> VOCClassResult {
        // Stable sort by score, highest first: ties keep file and line order.
        let order = refs.indices.sorted { a, b in
            let sa = input.detections[refs[a].image][refs[a].index].score
            let sb = input.detections[refs[b].image][refs[b].index].score
            return sa != sb ? sa > sb : a < b
        }
        // Ground truth of this class per image, with a "used" flag, created lazily.
        var gtByImage: [Int: [(object: VOCGroundTruthObject, used: Bool)]] = [:]
        let n = order.count
        var tp = [Int](repeating: 0, count: n)
        var fp = [Int](repeating: 0, count: n)
        var scores = [Double](repeating: 0, count: n)
        var countAbove = 0
        for (rank, k) in order.enumerated() {
            let ref = refs[k]
            let d = input.detections[ref.image][ref.index]
            scores[rank] = d.score
            if d.score >= options.scoreThreshold { countAbove = rank + 1 }
            if gtByImage[ref.image] == nil {
                gtByImage[ref.image] = input.groundTruth[ref.image].filter { $0.className == name }.map { ($0, false) }
            }
            var best = -1.0
            var match = -1
            for (g, entry) in gtByImage[ref.image]!.enumerated() {
                let ov = overlap(d, entry.object)
                if ov > best {
                    best = ov
                    match = g
                }
            }
            if match >= 0 && best >= options.minOverlap {
                let entry = gtByImage[ref.image]![match]
                if entry.object.difficult { continue }
                if !entry.used {
                    tp[rank] = 1
                    gtByImage[ref.image]![match].used = true
                } else {
                    fp[rank] = 1
                }
            } else {
                fp[rank] = 1
            }
        }
        let totalTP = tp.reduce(0, +)
        let totalFP = fp.reduce(0, +)
        var precision = [Double](repeating: 0, count: n)
        var recall = [Double](repeating: 0, count: n)
        var f1 = [Double](repeating: 0, count: n)
        var cumTP = 0, cumFP = 0
        for i in 0..<n {
            cumTP += tp[i]
            cumFP += fp[i]
            recall[i] = Double(cumTP) / Double(max(nGT, 1))
            precision[i] = Double(cumTP) / Double(max(cumTP + cumFP, 1))
            let sum = precision[i] + recall[i]
            let product = recall[i] * precision[i] * 2
            f1[i] = product / (sum == 0 ? 1 : sum)
        }
        let envelope = allPointEnvelope(recall: recall, precision: precision)
        let ap = options.elevenPoint ? elevenPointAP(recall: recall, precision: precision) : envelope.ap
        let at = countAbove - 1
        return VOCClassResult(
            name: name, ap: ap, groundTruthCount: nGT, detectionCount: detectionCount,
            truePositives: totalTP, falsePositives: totalFP, scores: scores,
            precision: precision, recall: recall, f1: f1,
            envelopeRecall: envelope.recall, envelopePrecision: envelope.precision,
            countAboveThreshold: countAbove,
            precisionAtThreshold: at >= 0 ? precision[at] : 0,
            recallAtThreshold: at >= 0 ? recall[at] : 0,
            f1AtThreshold: at >= 0 ? f1[at] : 0)
    }

    /// IoU with the +1 pixel convention; -1 when the boxes do not overlap (so that any
    /// overlap, however small, wins over none), as the reference's `ovmax` starts at -1.
    @inline(__always)
    static func overlap(_ d: VOCDetection, _ g: VOCGroundTruthObject) -> Double {
        let iw = min(d.right, g.right) - max(d.left, g.left) + 1
        let ih = min(d.bottom, g.bottom) - max(d.top, g.top) + 1
        guard iw > 0 && ih > 0 else { return -1 }
        let areaD = (d.right - d.left + 1) * (d.bottom - d.top + 1)
        let areaG = (g.right - g.left + 1) * (g.bottom - g.top + 1)
        let inter = iw * ih
        let union = areaD + areaG - inter
        // Only inverted boxes give a union <= 0 (the reference would divide by zero): no overlap.
        guard union > 0 else { return -1 }
        return inter / union
    }

    /// VOC2010+ all-point AP: recall framed by 0 and 1, precision framed by 0 and 0 and made
    /// monotonically decreasing from the right, then the sum of (r[i] - r[i-1]) * p[i] over the
    /// points where recall changes (summed left to right, as the reference does).
    public static func allPointEnvelope(recall: [Double], precision: [Double]) -> (ap: Double, recall: [Double], precision: [Double]) {
        let mrec = [0.0] + recall + [1.0]
        var mpre = [0.0] + precision + [0.0]
        if mpre.count >= 2 {
            for i in stride(from: mpre.count - 2, through: 0, by: -1) { mpre[i] = max(mpre[i], mpre[i + 1]) }
        }
        var ap = 0.0
        for i in 1..<mrec.count where mrec[i] != mrec[i - 1] {
            ap += (mrec[i] - mrec[i - 1]) * mpre[i]
        }
        return (ap, mrec, mpre)
    }

    /// VOC2007 11-point AP: the mean over t = 0, 0.1, ..., 1 of the largest precision at
    /// recall >= t (0 where none), accumulated as p / 11 (py-faster-rcnn's voc_eval).
    public static func elevenPointAP(recall: [Double], precision: [Double]) -> Double {
        var ap = 0.0
        for k in 0...10 {
            let t = Double(k) * 0.1
            var p = 0.0
            var any = false
            for i in recall.indices where recall[i] >= t {
                p = any ? max(p, precision[i]) : precision[i]
                any = true
            }
            ap += p / 11
        }
        return ap
    }
}
