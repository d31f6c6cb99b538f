import ArgumentParser
import Datasets
import Eval
import Foundation

/// `detr-bench eval`: COCO evaluation (load + evaluate + accumulate + summarize) against
/// pycocotools and faster-coco-eval on the same files, and the load of the instances file alone
/// against pycocotools' `COCO()`; VOC mAP against Cartucho/mAP; panoptic quality against
/// panopticapi.
///
/// Without --gt/--dt the shared val2014_100 pairs are timed (cases coco-bbox-val100,
/// coco-segm-val100). With them: coco-<iou-type> and coco-load (the --gt file). The stress case
/// comes from `python3 ../shared/bench/gen_coco_stress.py ../shared/data/coco/val2014_100 OUT`.
///
/// VOC mAP (`voc-map-*`): VOCMapInput.load + VOCMap.evaluate + writing results.txt (no plots)
/// vs Cartucho/mAP's main.py -na -np (reading the text files, matching, AP, output.txt; no
/// plots), on <data>/map/cartucho_sample (voc-map-cartucho, or --voc-map DIR: voc-map) and on
/// a generated case of --voc-map-images images (voc-map-gen<N>, scripts/bench/gen_voc_map_case.py).
/// Panoptic (`pq-*`): PanopticQuality.evaluate from the JSON files (JSON loading, PNG
/// decoding, matching, PQ) vs panopticapi's pq_compute, on the panopticapi sample against itself
/// (pq-sample) and on --pq-images copies of it with shifted predictions (pq-gen<N>,
/// scripts/bench/gen_pq_case.py). Generated cases are written once under the temporary folder and
/// reused. The references need $CARTUCHO_DIR / $PANOPTICAPI_DIR (or --cartucho / --panopticapi):
/// checkouts fetched elsewhere (e.g. /tmp); without them their lines have null ratios.
struct EvalBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "COCO, VOC mAP and panoptic evaluation vs pycocotools, faster-coco-eval, Cartucho/mAP and panopticapi.")

    @OptionGroup var options: BenchOptions

    @Option(help: "Ground-truth instances JSON.")
    var gt: String?

    @Option(help: "Results JSON (a list of detections).")
    var dt: String?

    @Option(help: "bbox or segm.")
    var iouType: String = "bbox"

    @Option(help: "VOC mAP folder holding ground-truth/ and detection-results/ (default: <data>/map/cartucho_sample).")
    var vocMap: String?

    @Option(help: "Images of the generated VOC mAP case (0: none).")
    var vocMapImages: Int = 5000

    @Option(help: "Images of the generated panoptic case (0: none).")
    var pqImages: Int = 1000

    @Option(help: "Cartucho/mAP checkout holding main.py (default: $CARTUCHO_DIR).")
    var cartucho: String?

    @Option(help: "panopticapi checkout holding panopticapi/evaluation.py (default: $PANOPTICAPI_DIR).")
    var panopticapi: String?

    func validate() throws {
        guard COCOIoUType(rawValue: iouType) != nil else { throw ValidationError("--iou-type must be bbox or segm") }
        guard (gt == nil) == (dt == nil) else { throw ValidationError("give both --gt and --dt, or neither") }
        for f in [gt, dt].compactMap({ $0 }) where !FileIO.isFile(f) { throw ValidationError("\(f) is not a file") }
        if let vocMap, !FileIO.isDirectory(FileIO.join(vocMap, "ground-truth")) || !FileIO.isDirectory(FileIO.join(vocMap, "detection-results")) {
            throw ValidationError("--voc-map \(vocMap) needs ground-truth/ and detection-results/ folders")
        }
        guard vocMapImages >= 0, pqImages >= 0 else { throw ValidationError("--voc-map-images and --pq-images must be >= 0") }
    }

    func run() throws {
        // The child process (`run-case`) receives only the case name; the files travel in the
        // environment, which it inherits (as do the reference scripts).
        if let gt, let dt {
            setenv(EvalBench.gtVariable, FileIO.absolutePath(gt), 1)
            setenv(EvalBench.dtVariable, FileIO.absolutePath(dt), 1)
            setenv(EvalBench.iouVariable, iouType, 1)
        } else if !FileIO.isDirectory(options.data + "/coco/val2014_100") {
            Bench.log("eval: \(options.data)/coco/val2014_100 is absent and no --gt/--dt given; no COCO cases")
        }
        if let vocMap { setenv(EvalBench.vocVariable, FileIO.absolutePath(vocMap), 1) }
        if let cartucho { setenv("CARTUCHO_DIR", FileIO.absolutePath(cartucho), 1) }
        if let panopticapi { setenv("PANOPTICAPI_DIR", FileIO.absolutePath(panopticapi), 1) }
        func wanted(_ name: String) -> Bool { options.only.map { name.contains($0) } ?? true }
        let scratch = FileIO.join(NSTemporaryDirectory(), "detr-bench-eval")
        if vocMapImages > 0, wanted("voc-map-gen\(vocMapImages)") {
            let dir = FileIO.join(scratch, "voc-map-\(vocMapImages)")
            if try generate(dir, script: "gen_voc_map_case.py", [dir, "--images", String(vocMapImages)]) {
                setenv(EvalBench.vocGenVariable, dir, 1)
            }
        }
        if pqImages > 0, wanted("pq-gen\(pqImages)"), FileIO.isDirectory(options.data + "/panoptic/sample") {
            let dir = FileIO.join(scratch, "pq-\(pqImages)")
            if try generate(dir, script: "gen_pq_case.py", [FileIO.absolutePath(options.data), dir, "--images", String(pqImages)]) {
                setenv(EvalBench.pqGenVariable, dir, 1)
            }
        }
        try Bench.runCases(Self.cases(data: options.data), area: "eval", options: options)
    }

    /// Runs a generator script of scripts/bench once per output folder (a `.complete` marker
    /// says it finished); false, with the reason logged, when it cannot run.
    func generate(_ dir: String, script: String, _ args: [String]) throws -> Bool {
        let marker = FileIO.join(dir, ".complete")
        if FileIO.isFile(marker) { return true }
        guard let python = Bench.which(options.python) else {
            Bench.log("eval: \(options.python) not found; cannot generate \(dir)")
            return false
        }
        Bench.log("eval: generating \(dir) with \(script)")
        let (status, _, err) = try Bench.run(python, [FileIO.join(options.scripts, script)] + args)
        guard status == 0 else {
            Bench.log("eval: \(script) failed: \(err.trimmingCharacters(in: .whitespacesAndNewlines))")
            return false
        }
        try FileIO.writeAtomically(marker, text: "")
        return true
    }

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
