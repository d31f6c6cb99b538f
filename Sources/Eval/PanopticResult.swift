import Datasets

/// The counts of one category.
public struct PanopticCategoryStat: Sendable, Equatable {
    public var iou: Double = 0
    public var tp: Int = 0
    public var fp: Int = 0
    public var fn: Int = 0

    public init(iou: Double = 0, tp: Int = 0, fp: Int = 0, fn: Int = 0) {
        self.iou = iou; self.tp = tp; self.fp = fp; self.fn = fn
    }

    static func += (a: inout PanopticCategoryStat, b: PanopticCategoryStat) {
        a.iou += b.iou
        a.tp += b.tp
        a.fp += b.fp
        a.fn += b.fn
    }
}

/// PQ, SQ and RQ as fractions, and the number of categories averaged (`n`).
public struct PanopticScores: Sendable, Equatable {
    public var pq: Double
    public var sq: Double
    public var rq: Double
    public var n: Int
}

/// The result of an evaluation.
public struct PanopticResult: Sendable {
    /// The ground truth's categories, in its order.
    public var categories: [PanopticCategory]
    /// Counts per category id.
    public var stats: [Int: PanopticCategoryStat]
    public var all: PanopticScores
    public var things: PanopticScores
    public var stuff: PanopticScores
    /// Per category (in `categories` order): PQ, SQ, RQ (0 for a category with no TP, FP or FN).
    public var perCategory: [(category: PanopticCategory, scores: PanopticScores)]
    public var imageCount: Int
}

extension PanopticQuality {
    /// PQ / SQ / RQ per category and averaged over All, Things and Stuff.
    public static func summarize(stats: [Int: PanopticCategoryStat], categories: [PanopticCategory],
                                 imageCount: Int) -> PanopticResult {
        // A repeated category id keeps its first position and last value (a Python dict).
        var byID: [Int: PanopticCategory] = [:]
        var order: [Int] = []
        for c in categories {
            if byID[c.id] == nil { order.append(c.id) }
            byID[c.id] = c
        }
        var perCategory: [(category: PanopticCategory, scores: PanopticScores)] = []
        func average(_ isThing: Bool?) -> PanopticScores {
            var pq = 0.0, sq = 0.0, rq = 0.0
            var n = 0
            for id in order {
                let c = byID[id]!
                if let isThing, (c.isThing == 1) != isThing { continue }
                let s = stats[id] ?? PanopticCategoryStat()
                if s.tp + s.fp + s.fn == 0 {
                    if isThing == nil { perCategory.append((c, PanopticScores(pq: 0, sq: 0, rq: 0, n: 0))) }
                    continue
                }
                n += 1
                let denominator = Double(s.tp) + 0.5 * Double(s.fp) + 0.5 * Double(s.fn)
                let pqc = s.iou / denominator
                let sqc = s.tp != 0 ? s.iou / Double(s.tp) : 0
                let rqc = Double(s.tp) / denominator
                if isThing == nil { perCategory.append((c, PanopticScores(pq: pqc, sq: sqc, rq: rqc, n: 1))) }
                pq += pqc
                sq += sqc
                rq += rqc
            }
            // panopticapi divides by n = 0 (and fails); report 0 instead.
            guard n > 0 else { return PanopticScores(pq: 0, sq: 0, rq: 0, n: 0) }
            return PanopticScores(pq: pq / Double(n), sq: sq / Double(n), rq: rq / Double(n), n: n)
        }
        let all = average(nil)
        let things = average(true)
        let stuff = average(false)
        return PanopticResult(categories: order.map { byID[$0]! }, stats: stats, all: all, things: things,
                              stuff: stuff, perCategory: perCategory, imageCount: imageCount)
    }
}
