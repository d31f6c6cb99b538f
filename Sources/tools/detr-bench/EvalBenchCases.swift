import Datasets
import Eval
import Foundation

/// The cases of `detr-bench eval`: which files each times, and its reference command.
extension EvalBench {
    static let gtVariable = "DETR_BENCH_EVAL_GT"
    static let dtVariable = "DETR_BENCH_EVAL_DT"
    static let iouVariable = "DETR_BENCH_EVAL_IOU"
    static let vocVariable = "DETR_BENCH_EVAL_VOC"
    static let vocGenVariable = "DETR_BENCH_EVAL_VOC_GEN"
    static let pqGenVariable = "DETR_BENCH_EVAL_PQ_GEN"

    static func cases(data: String) -> [BenchCase] {
        let env = ProcessInfo.processInfo.environment
        var pairs: [(name: String, gt: String, dt: String, iou: String)] = []
        var loadFile: String?
        if let gt = env[gtVariable], let dt = env[dtVariable] {
            let iou = env[iouVariable] ?? "bbox"
            pairs.append(("coco-\(iou)", gt, dt, iou))
            loadFile = gt
        } else if FileIO.isDirectory(data + "/coco/val2014_100") {
            let v = data + "/coco/val2014_100"
            pairs.append(("coco-bbox-val100", v + "/instances_val2014_100.json", v + "/instances_val2014_fakebbox100_results.json", "bbox"))
            pairs.append(("coco-segm-val100", v + "/instances_val2014_100.json", v + "/instances_val2014_fakesegm100_results.json", "segm"))
        }
        var out: [BenchCase] = []
        for p in pairs {
            for impl in ["pycocotools", "faster-coco-eval"] {
                out.append(BenchCase(name: p.name, reference: impl, referenceScript: "coco_eval_ref.py",
                                     referenceArguments: ["eval", p.gt, p.dt, p.iou, "--impl", impl]) {
                    let params = COCOEvalParams(iouType: COCOIoUType(rawValue: p.iou) ?? .bbox)
                    var clock = PhaseClock()
                    let gt = try COCOInstances.load(p.gt)
                    clock.lap("load gt")
                    let dt = try COCOResults.load(p.dt, groundTruth: gt)
                    clock.lap("load dt")
                    let evaluator = try COCOEvaluator(groundTruth: gt, results: dt.results, params: params)
                    clock.lap("prepare")
                    let result = try evaluator.run()
                    clock.lap("evaluate+accumulate")
                    let stats = result.stats
                    clock.lap("summarize")
                    Bench.log("\(p.name): \(clock.report); stats \(stats.map { String(format: "%.17g", $0) }.joined(separator: " "))")
                    return stats.count
                })
            }
        }
        if let gt = loadFile {
            for impl in ["pycocotools", "faster-coco-eval"] {
                out.append(BenchCase(name: "coco-load", reference: impl, referenceScript: "coco_eval_ref.py",
                                     referenceArguments: ["load", gt, "--impl", impl]) {
                    try COCOInstances.load(gt).annotations.count
                })
            }
        }
        out += vocMapCases(data: data, env: env)
        out += panopticCases(data: data, env: env)
        return out
    }

    /// Our side of voc-map: read the text files, evaluate, write results.txt (no plots), as
    /// `get-map voc --no-plots` does; the reference runs main.py -na -np.
    static func vocMapCases(data: String, env: [String: String]) -> [BenchCase] {
        var sets: [(name: String, dir: String)] = []
        if let dir = env[vocVariable] {
            sets.append(("voc-map", dir))
        } else if FileIO.isDirectory(data + "/map/cartucho_sample") {
            sets.append(("voc-map-cartucho", data + "/map/cartucho_sample"))
        }
        if let dir = env[vocGenVariable] {
            let n = (try? FileIO.listDirectory(FileIO.join(dir, "ground-truth")).count) ?? 0
            sets.append(("voc-map-gen\(n)", dir))
        }
        return sets.map { set in
            let gtDir = FileIO.absolutePath(FileIO.join(set.dir, "ground-truth"))
            let drDir = FileIO.absolutePath(FileIO.join(set.dir, "detection-results"))
            return BenchCase(name: set.name, reference: "cartucho-map", referenceScript: "voc_map_ref.py",
                             referenceArguments: [gtDir, drDir]) {
                let out = FileIO.join(NSTemporaryDirectory(), "detr-bench-voc-map-\(getpid())")
                try FileIO.makeDirectories(out)
                nonisolated(unsafe) var mAP = 0.0
                return {
                    let input = try VOCMapInput.load(groundTruthFolder: gtDir, detectionFolder: drDir)
                    let result = VOCMap.evaluate(input, options: VOCMapOptions())
                    try FileIO.writeAtomically(FileIO.join(out, "results.txt"), text: result.resultsText())
                    if mAP == 0 {
                        mAP = result.mAP
                        Bench.log("\(set.name): \(input.imageIDs.count) images, mAP \(String(format: "%.17g", result.mAP))")
                    }
                }
            }
        }
    }

    /// Our side of pq: PanopticQuality.evaluate from the JSON files and PNG folders (both
    /// cores), as pq_compute does from the same files (a pool of cpu_count() processes).
    static func panopticCases(data: String, env: [String: String]) -> [BenchCase] {
        var sets: [(name: String, gtJSON: String, gtDir: String, predJSON: String, predDir: String)] = []
        let sample = data + "/panoptic/sample"
        if FileIO.isDirectory(sample) {
            let json = FileIO.absolutePath(sample + "/panoptic_examples.json")
            let dir = FileIO.absolutePath(sample + "/panoptic_examples")
            sets.append(("pq-sample", json, dir, json, dir))
        }
        if let dir = env[pqGenVariable] {
            let n = (try? FileIO.listDirectory(FileIO.join(dir, "gt")).count) ?? 0
            sets.append(("pq-gen\(n)", dir + "/gt.json", dir + "/gt", dir + "/pred.json", dir + "/pred"))
        }
        return sets.map { set in
            BenchCase(name: set.name, reference: "panopticapi", referenceScript: "pq_ref.py",
                      referenceArguments: [set.gtJSON, set.gtDir, set.predJSON, set.predDir]) {
                if ProcessInfo.processInfo.environment["DETR_BENCH_PQ_SPLIT"] == "1" {
                    logPanopticSplit(set.name, gtJSON: set.gtJSON, gtDir: set.gtDir, predJSON: set.predJSON, predDir: set.predDir)
                }
                nonisolated(unsafe) var logged = false
                return {
                    let r = try PanopticQuality.evaluate(groundTruthJSON: set.gtJSON, groundTruthFolder: set.gtDir,
                                                         predictionJSON: set.predJSON, predictionFolder: set.predDir)
                    if !logged {
                        logged = true
                        Bench.log("\(set.name): \(r.imageCount) images, PQ/SQ/RQ/N all \(r.all.pq) \(r.all.sq) \(r.all.rq) \(r.all.n), things \(r.things.pq) \(r.things.n), stuff \(r.stuff.pq) \(r.stuff.n)")
                    }
                }
            }
        }
    }
}
