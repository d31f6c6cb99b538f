import Datasets

/// A detection confusion matrix built as ultralytics' `ConfusionMatrix.process_batch` builds
/// it (ultralytics/utils/metrics.py, 8.x): `(classes + 1) x (classes + 1)` counts, rows the
/// predicted class, columns the true class, the last row and column "background".
///
/// Per image: detections scored above `scoreThreshold` (`>`) are kept; every (ground truth,
/// detection) pair with IoU > `iouThreshold` is a candidate, whatever the classes; candidates
/// are sorted by IoU (highest first) and each detection keeps its best ground truth, then each
/// ground truth its best remaining detection (ties: the later pair first, as numpy's sort does
/// on small inputs). A matched ground truth counts at (detection's class, its class), an
/// unmatched one at (background, its class); an unmatched detection counts at (its class,
/// background), but, as in ultralytics, only when the image has at least one match (an image
/// with ground truth and no match at all adds no false positives). Images without ground truth
/// count every kept detection as background.
public struct ConfusionMatrix: Equatable, Sendable {
    public struct Detection: Equatable, Sendable {
        public var box: COCOBox
        public var score: Double
        public var classIndex: Int
        public init(box: COCOBox, score: Double, classIndex: Int) {
            self.box = box
            self.score = score
            self.classIndex = classIndex
        }
    }

    public struct Truth: Equatable, Sendable {
        public var box: COCOBox
        public var classIndex: Int
        public init(box: COCOBox, classIndex: Int) {
            self.box = box
            self.classIndex = classIndex
        }
    }

    /// Number of classes; index `classCount` is background.
    public let classCount: Int
    public let scoreThreshold: Double
    public let iouThreshold: Double
    /// Row-major `[predicted][true]`, `(classCount + 1)^2` entries.
    public private(set) var counts: [Int]

    public init(classCount: Int, scoreThreshold: Double = 0.25, iouThreshold: Double = 0.45) {
        self.classCount = max(0, classCount)
        self.scoreThreshold = scoreThreshold
        self.iouThreshold = iouThreshold
        counts = [Int](repeating: 0, count: (self.classCount + 1) * (self.classCount + 1))
    }

    /// The count at (predicted row, true column); `classCount` is background.
    public subscript(predicted: Int, truth: Int) -> Int {
        counts[predicted * (classCount + 1) + truth]
    }

    /// Each column divided by its sum + 1e-9 (ultralytics' normalisation), row-major.
    public var normalised: [Double] {
        let n = classCount + 1
        var sums = [Double](repeating: 0, count: n)
        for r in 0..<n { for c in 0..<n { sums[c] += Double(counts[r * n + c]) } }
        return counts.indices.map { Double(counts[$0]) / (sums[$0 % n] + 1e-9) }
    }

    /// Adds one image. Class indices outside 0..<classCount are left out. `iou(d, t)`, the IoU
    /// of `detections[d]` and `truths[t]`, replaces the boxes' IoU when given (mask IoU).
    public mutating func add(detections: [Detection], truths: [Truth], iou: ((_ detection: Int, _ truth: Int) -> Double)? = nil) {
        let bg = classCount
        let kept = detections.indices.filter { detections[$0].score > scoreThreshold && (0..<classCount).contains(detections[$0].classIndex) }
        let truthIndices = truths.indices.filter { (0..<classCount).contains(truths[$0].classIndex) }
        let dets = kept.map { detections[$0] }
        let gts = truthIndices.map { truths[$0] }
        func bump(_ p: Int, _ t: Int) { counts[p * (classCount + 1) + t] += 1 }
        if gts.isEmpty {
            for d in dets { bump(d.classIndex, bg) }
            return
        }
        let pairIoU: (Int, Int) -> Double = iou.map { f in { d, g in f(kept[d], truthIndices[g]) } }
            ?? { d, g in MaskIoU.box(dets[d].box, gts[g].box, crowd: false) }
        let matches = Self.match(detections: dets.count, truths: gts.count, threshold: iouThreshold, iou: pairIoU)
        var detectionOf = [Int](repeating: -1, count: gts.count)
        var matched = [Bool](repeating: false, count: dets.count)
        for (g, d) in matches {
            detectionOf[g] = d
            matched[d] = true
        }
        for (g, t) in gts.enumerated() {
            bump(detectionOf[g] >= 0 ? dets[detectionOf[g]].classIndex : bg, t.classIndex)
        }
        if !matches.isEmpty {
            for (d, det) in dets.enumerated() where !matched[d] { bump(det.classIndex, bg) }
        }
    }

    /// ultralytics' two-step unique matching: (ground truth, detection) pairs.
    static func match(_ dets: [COCOBox], _ gts: [COCOBox], threshold: Double) -> [(Int, Int)] {
        match(detections: dets.count, truths: gts.count, threshold: threshold) { d, g in MaskIoU.box(dets[d], gts[g], crowd: false) }
    }

    /// The matching on `iou(detection, truth)`.
    static func match(detections: Int, truths: Int, threshold: Double, iou pairIoU: (Int, Int) -> Double) -> [(Int, Int)] {
        var candidates: [(g: Int, d: Int, iou: Double)] = []
        for g in 0..<truths {   // torch.where's row-major order
            for d in 0..<detections {
                let iou = pairIoU(d, g)
                if iou > threshold { candidates.append((g, d, iou)) }
            }
        }
        guard candidates.count > 1 else { return candidates.map { ($0.g, $0.d) } }
        // argsort()[::-1] (a stable ascending sort reversed), then np.unique's first occurrence.
        func bestFirst(_ list: [(g: Int, d: Int, iou: Double)]) -> [(g: Int, d: Int, iou: Double)] {
            list.enumerated().sorted { x, y in
                x.element.iou > y.element.iou || (x.element.iou == y.element.iou && x.offset > y.offset)
            }.map(\.element)
        }
        func unique(_ list: [(g: Int, d: Int, iou: Double)], by key: (Int, Int) -> Int) -> [(g: Int, d: Int, iou: Double)] {
            var first: [Int: (g: Int, d: Int, iou: Double)] = [:]
            for c in list where first[key(c.g, c.d)] == nil { first[key(c.g, c.d)] = c }
            return first.keys.sorted().map { first[$0]! }
        }
        let perDetection = unique(bestFirst(candidates)) { _, d in d }
        return unique(bestFirst(perDetection)) { g, _ in g }.map { ($0.g, $0.d) }
    }

    /// The matrix as CSV: a header `predicted\true,<names>,background`, then one row per
    /// predicted class and background. Raw counts, or with `normalised` each column divided by
    /// its sum (+ 1e-9) in full precision.
    public func csv(names: [String], normalised: Bool = false) -> String {
        let n = classCount + 1
        let labels = (0..<classCount).map { $0 < names.count ? names[$0] : String($0) } + ["background"]
        let values = normalised ? self.normalised.map { "\($0)" } : counts.map(String.init)
        var out = "predicted\\true," + labels.map(csvField).joined(separator: ",") + "\n"
        for r in 0..<n {
            out += csvField(labels[r]) + "," + values[(r * n)..<(r * n + n)].joined(separator: ",") + "\n"
        }
        return out
    }
}
