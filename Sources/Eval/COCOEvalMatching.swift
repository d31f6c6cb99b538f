import Datasets
import Dispatch

// COCOeval.evaluate: greedy matching of each (image, category) bucket's detections to its
// ground truth, spread over workers; accumulate (COCOEvalAccumulate.swift) reads the codes.

extension COCOEvaluator {
    /// Per-bucket matching results: for each (area range, IoU threshold, detection) a code
    /// (0 false positive, 1 true positive, 2 ignored), and per (bucket, area range) the number
    /// of non-ignored ground truths.
    struct Matches: Sendable {
        var codeStart: [Int]
        var codes: [UInt8]
        var nonIgnored: [Int32]
    }

    /// Runs evaluate (matching) and accumulate. `threads` 1 runs serially; any other value
    /// spreads (image, category) buckets, then categories, over all cores with
    /// DispatchQueue.concurrentPerform. The result does not depend on it.
    public func run(threads: Int = 0) throws -> COCOEvalResult {
        let matches = try evaluate(threads: threads)
        return accumulate(matches, threads: threads)
    }

    func evaluate(threads: Int) throws -> Matches {
        let buckets = dtStart.count - 1
        let A = params.areaRanges.count, T = params.iouThresholds.count
        var codeStart = [Int](repeating: 0, count: buckets + 1)
        for b in 0..<buckets { codeStart[b + 1] = codeStart[b] + A * T * (dtStart[b + 1] - dtStart[b]) }
        // (At least one byte, so that the buffer always has a base address.)
        var codes = [UInt8](repeating: 0, count: max(1, codeStart[buckets]))
        var nonIgnored = [Int32](repeating: 0, count: buckets * A)
        var failures = [Int32](repeating: -1, count: buckets)
        let workers = Self.workerCount(threads)
        let chunk = max(1, (buckets + workers * 8 - 1) / (workers * 8))
        let chunks = (buckets + chunk - 1) / chunk
        codes.withUnsafeMutableBufferPointer { codesBuf in
            nonIgnored.withUnsafeMutableBufferPointer { npigBuf in
                failures.withUnsafeMutableBufferPointer { failBuf in
                    nonisolated(unsafe) let codesP = codesBuf
                    nonisolated(unsafe) let npigP = npigBuf
                    nonisolated(unsafe) let failP = failBuf
                    let cs = codeStart
                    let work: @Sendable (Int) -> Void = { c in
                        let scratch = BucketScratch()
                        let lo = c * chunk, hi = min(buckets, lo + chunk)
                        for b in lo..<hi {
                            if let bad = self.evaluateBucket(b, scratch: scratch, codes: codesP.baseAddress! + cs[b],
                                                             nonIgnored: npigP.baseAddress! + b * A) {
                                failP[b] = bad
                            }
                        }
                    }
                    if workers == 1 || chunks == 1 {
                        for c in 0..<chunks { work(c) }
                    } else {
                        DispatchQueue.concurrentPerform(iterations: chunks, execute: work)
                    }
                }
            }
        }
        if let b = failures.firstIndex(where: { $0 >= 0 }) {
            let n = Int(failures[b])
            if n >= results.count {
                throw COCOEvalError.badSegmentation(what: "ground-truth annotation", index: n - results.count, reason: "cannot be decoded")
            }
            throw COCOEvalError.badSegmentation(what: "result", index: n, reason: "compressed RLE counts cannot be decoded")
        }
        return Matches(codeStart: codeStart, codes: codes, nonIgnored: nonIgnored)
    }

    /// Matching of one bucket. Returns an index of a segmentation that failed to decode
    /// (results first, then ground truth offset by results.count), or nil.
    func evaluateBucket(_ b: Int, scratch s: BucketScratch, codes: UnsafeMutablePointer<UInt8>,
                        nonIgnored: UnsafeMutablePointer<Int32>) -> Int32? {
        let g0 = gtStart[b], g1 = gtStart[b + 1], d0 = dtStart[b], d1 = dtStart[b + 1]
        let G = g1 - g0, D = d1 - d0
        let A = params.areaRanges.count, T = params.iouThresholds.count
        if D == 0 {
            // Only the count of regular ground truths matters to accumulate.
            for a in 0..<A {
                let range = params.areaRanges[a]
                var regular: Int32 = 0
                for g in g0..<g1 where !(gtCrowd[g] || gtAreas[g] < range.min || gtAreas[g] > range.max) { regular += 1 }
                nonIgnored[a] = regular
            }
            return nil
        }
        let image = params.useCats ? b % I : b
        let (h, w) = imageSizes[image]
        let dtArea = s.dtArea.get(D)
        let dtBox = s.dtBox.get(D)
        // Detections: areas (loadRes: w*h for box results, the mask's pixel count otherwise).
        let needMasks = params.iouType == .segm || !resultsAreBoxes
        s.dtMasks.removeAll(keepingCapacity: true)
        for d in 0..<D {
            let n = Int(dtIndex[d0 + d])
            if needMasks {
                let r = results[n]
                let mask: RLE?
                if let seg = r.segmentation {
                    mask = RLE(segmentation: seg, height: h, width: w)
                } else if let box = r.bbox {
                    mask = RLE(box: box, height: h, width: w)
                } else {
                    mask = nil
                }
                guard let mask else { return Int32(n) }
                s.dtMasks.append(mask)
                if !resultsAreBoxes {
                    dtArea[d] = Double(mask.area)
                    dtBox[d] = r.bbox ?? mask.boundingBox
                }
            }
            if resultsAreBoxes {
                let box = dtBoxes[d0 + d]
                dtArea[d] = box.width * box.height
                dtBox[d] = box
            }
        }
        // IoU matrix [D][G].
        let ious = s.ious.get(D * G)
        if G > 0 {
            if params.iouType == .bbox {
                gtBoxes.withUnsafeBufferPointer { gb in
                    gtCrowd.withUnsafeBufferPointer { gc in
                        for d in 0..<D {
                            let db = dtBox[d]
                            let row = ious + d * G
                            for g in 0..<G { row[g] = MaskIoU.box(db, gb[g0 + g], crowd: gc[g0 + g]) }
                        }
                    }
                }
            } else {
                s.gtMasks.removeAll(keepingCapacity: true)
                s.gtMaskBoxes.removeAll(keepingCapacity: true)
                for g in g0..<g1 {
                    let n = gtIndex[g]
                    guard let m = RLE(segmentation: gt.annotations[Int(n)].segmentation!, height: h, width: w) else {
                        return Int32(results.count) + n
                    }
                    s.gtMasks.append(m)
                    s.gtMaskBoxes.append(m.boundingBox)
                }
                s.dtMaskBoxes.removeAll(keepingCapacity: true)
                for m in s.dtMasks { s.dtMaskBoxes.append(m.boundingBox) }
                for d in 0..<D {
                    for g in 0..<G {
                        ious[d * G + g] = MaskIoU.mask(s.dtMasks[d], s.gtMasks[g], crowd: gtCrowd[g0 + g],
                                                       dBox: s.dtMaskBoxes[d], gBox: s.gtMaskBoxes[g])
                    }
                }
            }
        }
        // Matching per area range and IoU threshold, on the IoU columns reordered so that the
        // regular ground truths come first (each group in bucket order), as pycocotools sorts.
        let order = s.order.get(G), ignored = s.ignored.get(G), crowd = s.crowd.get(G), idZero = s.idZero.get(G)
        let taken = s.taken.get(G), outside = s.outside.get(D), sorted = s.sortedIoUs.get(D * G)
        for a in 0..<A {
            let range = params.areaRanges[a]
            var regular = 0
            for g in 0..<G where !(gtCrowd[g0 + g] || gtAreas[g0 + g] < range.min || gtAreas[g0 + g] > range.max) {
                order[regular] = g
                regular += 1
            }
            var k = regular
            for g in 0..<G where gtCrowd[g0 + g] || gtAreas[g0 + g] < range.min || gtAreas[g0 + g] > range.max {
                order[k] = g
                k += 1
            }
            nonIgnored[a] = Int32(regular)
            for gi in 0..<G {
                let g = order[gi]
                ignored[gi] = gi >= regular
                crowd[gi] = gtCrowd[g0 + g]
                idZero[gi] = gtIdZero[g0 + g]
                for d in 0..<D { sorted[d * G + gi] = ious[d * G + g] }
            }
            for d in 0..<D { outside[d] = dtArea[d] < range.min || dtArea[d] > range.max }
            for t in 0..<T {
                // Codes are stored detection-major ([d][a][t]) so that accumulate reads each
                // detection's A*T codes from one cache line.
                let out = codes + (a * T + t)
                let step = A * T
                taken.initialize(repeating: false, count: G)
                let threshold = Swift.min(params.iouThresholds[t], 1 - 1e-10)
                for d in 0..<D {
                    var best = threshold
                    var m = -1
                    let row = sorted + d * G
                    for g in 0..<G {
                        if taken[g] && !crowd[g] { continue }
                        if m > -1 && !ignored[m] && ignored[g] { break }
                        let v = row[g]
                        if v < best { continue }
                        best = v
                        m = g
                    }
                    if m == -1 {
                        out[d * step] = outside[d] ? 2 : 0
                        continue
                    }
                    taken[m] = true
                    if ignored[m] {
                        out[d * step] = 2
                    } else if idZero[m] {
                        out[d * step] = outside[d] ? 2 : 0   // pycocotools quirk: ground-truth id 0 reads as "unmatched"
                    } else {
                        out[d * step] = 1
                    }
                }
            }
        }
        return nil
    }
}
