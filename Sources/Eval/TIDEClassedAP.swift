/// One detection in TIDE's AP data: its score and whether it is a true positive.
struct TIDEPoint {
    var score: Double
    var correct: Bool
}

/// tidecv's `ClassedAPDataObject`: per class (in the order first touched) the detections in
/// the order pushed and the number of ground truths; AP with tidecv's `get_ap`.
struct TIDEClassedAP {
    var classes: [Int64] = []
    var slot: [Int64: Int] = [:]
    var points: [[TIDEPoint]] = []
    var positives: [Int] = []

    mutating func index(_ cls: Int64) -> Int {
        if let k = slot[cls] { return k }
        slot[cls] = classes.count
        classes.append(cls)
        points.append([])
        positives.append(0)
        return classes.count - 1
    }

    mutating func push(_ cls: Int64, _ point: TIDEPoint) {
        points[index(cls)].append(point)
    }

    mutating func addPositives(_ cls: Int64, _ count: Int) {
        positives[index(cls)] += count
    }

    /// The mean of the class APs over the classes with detections or ground truth (0-100);
    /// 0 when there are none (tidecv divides by zero).
    func meanAP() -> Double {
        var sum = 0.0, n = 0
        for k in classes.indices where !(points[k].isEmpty && positives[k] == 0) {
            sum += Self.averagePrecision(points[k], positives: positives[k])
            n += 1
        }
        return n == 0 ? 0 : sum / Double(n)
    }

    /// tidecv's `APDataObject.get_ap`: 0 without ground truth; otherwise the points sorted by
    /// score (stable), precision made non-increasing from the right, sampled at recall r / 100
    /// (r = 0...100, the first point whose recall reaches it, 0 past the last), averaged, x 100.
    static func averagePrecision(_ points: [TIDEPoint], positives: Int) -> Double {
        guard positives != 0 else { return 0 }
        let sorted = points.enumerated().sorted { x, y in
            x.element.score > y.element.score || (x.element.score == y.element.score && x.offset < y.offset)
        }
        var precision: [Double] = []
        var recall: [Double] = []
        precision.reserveCapacity(sorted.count)
        recall.reserveCapacity(sorted.count)
        var tp = 0, fp = 0
        for (_, p) in sorted {
            if p.correct { tp += 1 } else { fp += 1 }
            precision.append(Double(tp) / Double(tp + fp))
            recall.append(Double(tp) / Double(positives))
        }
        if precision.count > 1 {
            for i in stride(from: precision.count - 1, to: 0, by: -1) where precision[i] > precision[i - 1] {
                precision[i - 1] = precision[i]
            }
        }
        var sum = 0.0
        var idx = 0
        for bar in 0...100 {
            let x = Double(bar) / 100
            while idx < recall.count && recall[idx] < x { idx += 1 }
            if idx < recall.count { sum += precision[idx] }
        }
        return sum / 101 * 100
    }
}
