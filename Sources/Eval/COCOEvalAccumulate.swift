import Dispatch

/// COCOeval.accumulate: per category, area range, maxDets and IoU threshold, the precision at
/// the recall thresholds and the final recall, from the matching codes of evaluate.
extension COCOEvaluator {
    func accumulate(_ matches: Matches, threads: Int) -> COCOEvalResult {
        let T = params.iouThresholds.count, R = params.recallThresholds.count
        let A = params.areaRanges.count, M = params.maxDets.count
        var precision = [Double](repeating: -1, count: T * R * K * A * M)
        var recall = [Double](repeating: -1, count: T * K * A * M)
        let workers = Self.workerCount(threads)
        precision.withUnsafeMutableBufferPointer { pBuf in
            recall.withUnsafeMutableBufferPointer { rBuf in
                nonisolated(unsafe) let pP = pBuf
                nonisolated(unsafe) let rP = rBuf
                let work: @Sendable (Int) -> Void = { k in
                    self.accumulateCategory(k, matches, precision: pP, recall: rP)
                }
                if workers == 1 || K == 1 {
                    for k in 0..<K { work(k) }
                } else {
                    DispatchQueue.concurrentPerform(iterations: K, execute: work)
                }
            }
        }
        return COCOEvalResult(params: params, categoryIds: categoryIds, precision: precision, recall: recall, categoryCount: K)
    }

    struct PooledDetection {
        var score: Double
        var bucket: Int32
        var rank: Int32
    }

    func accumulateCategory(_ k: Int, _ matches: Matches, precision: UnsafeMutableBufferPointer<Double>,
                            recall: UnsafeMutableBufferPointer<Double>) {
        let T = params.iouThresholds.count, R = params.recallThresholds.count
        let A = params.areaRanges.count, M = params.maxDets.count
        // Pool the detections of category k over the images, in image order, then sort by
        // score, ties by pooled position (numpy's mergesort is stable).
        var pooled: [PooledDetection] = []
        for i in 0..<I {
            let b = k * I + i
            for d in 0..<(dtStart[b + 1] - dtStart[b]) {
                pooled.append(PooledDetection(score: dtScore[dtStart[b] + d], bucket: Int32(b), rank: Int32(d)))
            }
        }
        var order = Array(0..<pooled.count)
        order.sort { x, y in
            let sx = pooled[x].score, sy = pooled[y].score
            return sx > sy || (sx == sy && x < y)
        }
        let n = order.count
        // Per pooled detection, in score order: its rank in its bucket, and its A*T codes
        // gathered into rows (row a*T+t holds every detection's code for that pair).
        let AT = A * T
        var rank = [Int32](repeating: 0, count: n)
        var codeMatrix = [UInt8](repeating: 0, count: max(1, AT * n))   // never empty: a base address
        matches.codes.withUnsafeBufferPointer { codes in
            codeMatrix.withUnsafeMutableBufferPointer { cm in
                for (j, o) in order.enumerated() {
                    let e = pooled[o]
                    rank[j] = e.rank
                    let src = matches.codeStart[Int(e.bucket)] + Int(e.rank) * AT
                    for row in 0..<AT { cm[row * n + j] = codes[src + row] }
                }
            }
        }
        var rc = [Double](repeating: 0, count: n)
        var pr = [Double](repeating: 0, count: n)
        let eps = Double.ulpOfOne   // np.spacing(1)
        let recThrs = params.recallThresholds
        codeMatrix.withUnsafeBufferPointer { cm in
            for a in 0..<A {
                var npig = 0
                for i in 0..<I { npig += Int(matches.nonIgnored[(k * I + i) * A + a]) }
                if npig == 0 { continue }   // no regular ground truth: precision and recall stay -1
                let npigD = Double(npig)
                for t in 0..<T {
                    let codeRow = cm.baseAddress! + (a * T + t) * n
                    for (mi, maxDet) in params.maxDets.enumerated() {
                        var tp = 0.0, fp = 0.0
                        var count = 0
                        for j in 0..<n where Int(rank[j]) < maxDet {
                            let code = codeRow[j]
                            if code == 2 { continue }
                            if code == 1 { tp += 1 } else { fp += 1 }
                            rc[count] = tp / npigD
                            pr[count] = tp / (fp + tp + eps)
                            count += 1
                        }
                        // Ignored detections are left out: their entries would repeat the
                        // previous recall and precision, which changes neither the envelope nor
                        // the first index reaching a recall threshold.
                        recall[((t * K + k) * A + a) * M + mi] = count > 0 ? rc[count - 1] : 0
                        if count > 1 {
                            for i in Swift.stride(from: count - 1, to: 0, by: -1) where pr[i] > pr[i - 1] { pr[i - 1] = pr[i] }
                        }
                        var idx = 0
                        for r in 0..<R {
                            let thr = recThrs[r]
                            while idx < count && rc[idx] < thr { idx += 1 }
                            precision[(((t * R + r) * K + k) * A + a) * M + mi] = idx < count ? pr[idx] : 0
                        }
                    }
                }
            }
        }
    }
}
