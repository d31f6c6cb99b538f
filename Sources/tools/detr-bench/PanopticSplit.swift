import Datasets
import Eval
import Foundation

extension EvalBench {
    /// Untimed diagnostics for the log, with DETR_BENCH_PQ_SPLIT=1 (they raise the case's peak
    /// RSS): the time of reading the PNGs, of decoding them alone (1 and 2 threads), of the
    /// evaluation's row-wise decoding into pair runs, of evaluateImage on decoded maps and of
    /// the JSON loading, to split the case's time. Run
    /// `DETR_BENCH_PQ_SPLIT=1 detr-bench run-case eval pq-sample` (pq-gen<N> needs
    /// DETR_BENCH_EVAL_PQ_GEN=<folder>) to see them.
    static func logPanopticSplit(_ name: String, gtJSON: String, gtDir: String, predJSON: String, predDir: String) {
        guard let gt = try? COCOPanoptic.load(gtJSON), let pred = try? COCOPanoptic.load(predJSON) else { return }
        let paths = gt.annotations.map { FileIO.join(gtDir, $0.fileName) } + pred.annotations.map { FileIO.join(predDir, $0.fileName) }
        func seconds(_ work: () throws -> Void) -> Double {
            var best = Double.infinity
            for _ in 0..<3 {
                let t0 = DispatchTime.now().uptimeNanoseconds
                try? work()
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            }
            return best
        }
        let tRead = seconds { for p in paths { _ = try FileIO.readBytes(p) } }
        let tLoad1 = seconds { for p in paths { _ = try PanopticQuality.SegmentMap.load(p) } }
        let tLoad2 = seconds {
            DispatchQueue.concurrentPerform(iterations: 2) { k in
                for i in stride(from: k, to: paths.count, by: 2) { _ = try? PanopticQuality.SegmentMap.load(paths[i]) }
            }
        }
        let tJSON = seconds { _ = try COCOPanoptic.load(gtJSON); _ = try COCOPanoptic.load(predJSON) }
        let tDecode1 = seconds { for p in paths { _ = try ImageIO.decode(try FileIO.readBytes(p), path: p) } }
        // The evaluation's decoding: both PNGs of an image a row at a time, runs of id pairs.
        let n = min(gt.annotations.count, pred.annotations.count)
        let tRows1 = seconds {
            let gr = PNGSegmentRowReader(), pr = PNGSegmentRowReader()
            for i in 0..<n {
                let gb = try FileIO.readBytes(paths[i]), pb = try FileIO.readBytes(paths[gt.annotations.count + i])
                gb.withUnsafeBufferPointer { g in
                    pb.withUnsafeBufferPointer { p in
                        guard let size = gr.begin(g), pr.begin(p) != nil else { return }
                        var keys = [UInt64](repeating: 0, count: size.width), lengths = [UInt32](repeating: 0, count: size.width)
                        for _ in 0..<size.height {
                            _ = keys.withUnsafeMutableBufferPointer { k in
                                lengths.withUnsafeMutableBufferPointer { l in gr.nextRowRuns(with: pr, keys: k.baseAddress!, lengths: l.baseAddress!) }
                            }
                        }
                    }
                }
            }
        }
        // evaluateImage alone (pixel pairs, matching) on the first images, decoded beforehand.
        let k = min(100, gt.annotations.count)
        var predByImage: [PanopticImageID: PanopticAnnotation] = [:]
        for a in pred.annotations { predByImage[a.imageID] = a }
        let categories = Set(gt.categories.map(\.id))
        var maps: [(PanopticQuality.SegmentMap, PanopticAnnotation, PanopticQuality.SegmentMap, PanopticAnnotation)] = []
        for g in gt.annotations.prefix(k) {
            guard let p = predByImage[g.imageID],
                  let gm = try? PanopticQuality.SegmentMap.load(FileIO.join(gtDir, g.fileName)),
                  let pm = try? PanopticQuality.SegmentMap.load(FileIO.join(predDir, p.fileName)) else { return }
            maps.append((gm, g, pm, p))
        }
        let tEval = seconds {
            for (gm, g, pm, p) in maps {
                _ = try PanopticQuality.evaluateImage(groundTruth: gm, groundTruthSegments: g.segments, prediction: pm,
                                                      predictionSegments: p.segments, categories: categories)
            }
        } / Double(max(k, 1)) * Double(gt.annotations.count)
        Bench.log(String(format: "%@: %d PNGs: read %.4f s, read+decode (RGB) 1 thread %.4f s, read+decode+ids 1 thread %.4f s, 2 threads %.4f s; read+row-wise pair runs (the evaluation's path) 1 thread %.4f s; evaluateImage on whole maps (pairs+matching) 1 thread %.4f s (from %d images); JSON load %.4f s (best of 3)",
                         name, paths.count, tRead, tDecode1, tLoad1, tLoad2, tRows1, tEval, k, tJSON))
    }
}
/// Wall time of the phases of one run, for the log.
struct PhaseClock {
    var last = DispatchTime.now().uptimeNanoseconds
    var parts: [String] = []

    mutating func lap(_ name: String) {
        let now = DispatchTime.now().uptimeNanoseconds
        parts.append(String(format: "%@ %.3f s", name, Double(now - last) / 1e9))
        last = now
    }

    var report: String { parts.joined(separator: ", ") }
}
