import Datasets

/// One error found by TIDE's matching (tidecv's error objects, flattened).
struct TIDEErrorRecord {
    var kind: TIDEErrorKind
    /// The detection's index in the results (-1 for a missed ground truth).
    var detection: Int
    var detectionClass: Int64
    var score: Double
    /// The detection is in the AP data as a false positive (false when a crowd ignored it).
    var inData: Bool
    /// Classification / localisation: the ground truth a fix would match (its annotation index),
    /// -1 when that ground truth was already taken; missed: the ground truth.
    var groundTruth: Int
    var groundTruthClass: Int64
}

/// tidecv's TIDERun for boxes or masks: the matching of every image, the original AP data and the
/// errors, and `fixed(...)`, the AP data with some errors fixed (its `fix_errors`).
struct TIDERun {
    let params: TIDEParams
    let shapes: TIDEShapes
    var original = TIDEClassedAP()
    var errors: [TIDEErrorRecord] = []
    /// Unmatched regular ground truths per class.
    var falseNegatives: [Int64: Int] = [:]
    /// Per annotation: a classification or localisation error could take it (tidecv's `usable`),
    /// and the highest-scored such detection (`best_score`, `best_id`).
    var usable: [Bool]
    var bestScore: [Double]
    var bestDetection: [Int]

    init(groundTruth gt: COCOInstances, results: [COCOResult], params: TIDEParams, shapes: TIDEShapes) {
        self.params = params
        self.shapes = shapes
        usable = [Bool](repeating: false, count: gt.annotations.count)
        bestScore = [Double](repeating: -1, count: gt.annotations.count)
        bestDetection = [Int](repeating: -1, count: gt.annotations.count)
        // Images in tidecv's order: the images list, then ids only the annotations name.
        var imageOrder: [Int64] = []
        var gtOf: [Int64: [Int]] = [:]
        for im in gt.images where gtOf[im.id] == nil {
            gtOf[im.id] = []
            imageOrder.append(im.id)
        }
        for (n, a) in gt.annotations.enumerated() {
            if gtOf[a.imageId] == nil { imageOrder.append(a.imageId) }
            gtOf[a.imageId, default: []].append(n)
        }
        var dtOf: [Int64: [Int]] = [:]
        for (n, r) in results.enumerated() { dtOf[r.imageId, default: []].append(n) }
        for image in imageOrder {
            evaluateImage(gt: gt, gtIndices: gtOf[image] ?? [], results: results, detections: dtOf[image] ?? [])
        }
    }

    /// tidecv's `_eval_image` with its `TIDEExample`.
    mutating func evaluateImage(gt: COCOInstances, gtIndices: [Int], results: [COCOResult], detections: [Int]) {
        let regular = gtIndices.filter { !gt.annotations[$0].isCrowd }
        let crowds = gtIndices.filter { gt.annotations[$0].isCrowd }
        for g in regular { original.addPositives(gt.annotations[g].categoryId, 1) }
        if detections.isEmpty {
            for g in regular { addMissed(g, gt.annotations[g].categoryId) }
            return
        }
        // Stable sort by score, highest first, then the first maxDets.
        let order = detections.enumerated().sorted { x, y in
            let sx = results[x.element].score, sy = results[y.element].score
            return sx > sy || (sx == sy && x.offset < y.offset)
        }.map(\.element).prefix(max(0, params.maxDets))
        let dets = Array(order)
        let D = dets.count, G = regular.count
        let pos = params.positiveThreshold, bg = params.backgroundThreshold
        // IoU [D][G], and the same masked to the detection's class.
        var iou = [Double](repeating: 0, count: D * G)
        var sameClass = [Bool](repeating: false, count: D * G)
        for d in 0..<D {
            let r = results[dets[d]]
            for g in 0..<G {
                let a = gt.annotations[regular[g]]
                iou[d * G + g] = shapes.iou(result: dets[d], annotation: regular[g], crowd: false)
                sameClass[d * G + g] = r.categoryId == a.categoryId
            }
        }
        let classIoU = zip(iou, sameClass).map { $1 ? $0 : 0 }
        // Greedy matching by score on the class-masked IoU; a taken column is zeroed.
        enum State { case falsePositive, truePositive, ignored }
        var state = [State](repeating: .falsePositive, count: D)
        var taken = [Bool](repeating: false, count: G)
        if G > 0 {
            var buffer = classIoU
            for d in 0..<D {
                let g = argmax(buffer, row: d, columns: G)
                guard buffer[d * G + g] >= pos else { continue }
                state[d] = .truePositive
                taken[g] = true
                for e in 0..<D { buffer[e * G + g] = 0 }
            }
        }
        // Crowds: ignore regions for unmatched detections of their class.
        for c in crowds {
            let region = gt.annotations[c]
            for d in 0..<D where state[d] != .truePositive {
                let r = results[dets[d]]
                if r.categoryId == region.categoryId && shapes.iou(result: dets[d], annotation: c, crowd: true) > pos {
                    state[d] = .ignored
                }
            }
        }
        for d in 0..<D {
            let r = results[dets[d]]
            if state[d] != .ignored { original.push(r.categoryId, TIDEPoint(score: r.score, correct: state[d] == .truePositive)) }
            guard state[d] != .truePositive else { continue }
            var record = TIDEErrorRecord(kind: .background, detection: dets[d], detectionClass: r.categoryId, score: r.score,
                                         inData: state[d] == .falsePositive, groundTruth: -1, groundTruthClass: r.categoryId)
            defer { errors.append(record) }
            if G == 0 { continue }
            // Localisation: the best same-class IoU lies in [bg, pos].
            var g = argmax(classIoU, row: d, columns: G)
            if bg <= classIoU[d * G + g] && classIoU[d * G + g] <= pos {
                record.kind = .localization
                target(&record, regular[g], gt.annotations[regular[g]].categoryId, taken: taken[g])
                continue
            }
            // Classification: a ground truth of another class at >= pos.
            let otherClass = (0..<G).map { sameClass[d * G + $0] ? 0 : iou[d * G + $0] }
            g = argmax(otherClass, row: 0, columns: G)
            if otherClass[g] >= pos {
                record.kind = .classification
                target(&record, regular[g], gt.annotations[regular[g]].categoryId, taken: taken[g])
                continue
            }
            // Duplicate: a taken ground truth of its class at >= pos.
            let takenSameClass = (0..<G).map { taken[$0] ? classIoU[d * G + $0] : 0 }
            if takenSameClass[argmax(takenSameClass, row: 0, columns: G)] >= pos {
                record.kind = .duplicate
                continue
            }
            let best = iou[(d * G)..<(d * G + G)].max()!
            record.kind = best <= bg ? .background : .both
        }
        for (g, n) in regular.enumerated() where !taken[g] {
            let c = gt.annotations[n].categoryId
            falseNegatives[c, default: 0] += 1
            if !usable[n] { errors.append(TIDEErrorRecord(kind: .missed, detection: -1, detectionClass: c, score: 0,
                                                          inData: false, groundTruth: n, groundTruthClass: c)) }
        }
    }

    /// tidecv's `BestGTMatch`: an untaken ground truth becomes usable and remembers its
    /// highest-scored candidate (the first on ties).
    mutating func target(_ record: inout TIDEErrorRecord, _ n: Int, _ cls: Int64, taken: Bool) {
        record.groundTruthClass = cls
        guard !taken else { return }
        record.groundTruth = n
        usable[n] = true
        if bestScore[n] < record.score {
            bestScore[n] = record.score
            bestDetection[n] = record.detection
        }
    }

    mutating func addMissed(_ n: Int, _ cls: Int64) {
        falseNegatives[cls, default: 0] += 1
        errors.append(TIDEErrorRecord(kind: .missed, detection: -1, detectionClass: cls, score: 0, inData: false,
                                      groundTruth: n, groundTruthClass: cls))
    }

    /// numpy's argmax of row `row` of a [rows][columns] matrix: the first maximum.
    func argmax(_ m: [Double], row: Int, columns: Int) -> Int {
        var best = 0
        for g in 1..<max(1, columns) where m[row * columns + g] > m[row * columns + best] { best = g }
        return best
    }

    /// tidecv's `fix_errors`: the AP data with the errors `condition` selects fixed (errors
    /// first, in the order found, then the original true positives class by class), every
    /// point passed through `transform`, and the unmatched ground truths removed from the
    /// counts when `removingFalseNegatives`.
    func fixed(where condition: (TIDEErrorRecord) -> Bool, transform: ((TIDEPoint) -> TIDEPoint)? = nil,
               removingFalseNegatives: Bool = false) -> TIDEClassedAP {
        var positives = original.positives
        var out = TIDEClassedAP()
        for e in errors {
            var cls = e.detectionClass
            var point: TIDEPoint? = e.inData ? TIDEPoint(score: e.score, correct: false) : nil
            if condition(e) {
                switch e.kind {
                case .classification, .localization:
                    let fixes = e.groundTruth >= 0 && bestDetection[e.groundTruth] == e.detection
                    point = fixes ? TIDEPoint(score: e.score, correct: true) : nil
                    if e.kind == .classification { cls = e.groundTruthClass }
                case .missed:
                    positives[original.slot[e.groundTruthClass]!] -= 1
                    point = nil
                case .duplicate, .background, .both:
                    point = nil
                }
            }
            if let p = point { out.push(cls, transform?(p) ?? p) }
        }
        for (k, c) in original.classes.enumerated() {
            for p in original.points[k] where p.correct { out.push(c, transform?(p) ?? p) }
        }
        for (k, c) in original.classes.enumerated() {
            out.addPositives(c, positives[k] - (removingFalseNegatives ? falseNegatives[c] ?? 0 : 0))
        }
        return out
    }
}
