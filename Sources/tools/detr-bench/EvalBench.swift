import ArgumentParser
import Datasets
import Eval
import Foundation

/// `detr-bench eval`: COCO evaluation (load + evaluate + accumulate + summarize) against
/// pycocotools and faster-coco-eval on the same files, and the load of the instances file alone
/// against pycocotools' `COCO()`.
///
/// Without --gt/--dt the shared val2014_100 pairs are timed (cases coco-bbox-val100,
/// coco-segm-val100). With them: coco-<iou-type> and coco-load (the --gt file). The stress case
/// comes from `python3 ../shared/bench/gen_coco_stress.py ../shared/data/coco/val2014_100 OUT`.
struct EvalBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "COCO evaluation and COCO JSON loading vs pycocotools and faster-coco-eval.")

    @OptionGroup var options: BenchOptions

    @Option(help: "Ground-truth instances JSON.")
    var gt: String?

    @Option(help: "Results JSON (a list of detections).")
    var dt: String?

    @Option(help: "bbox or segm.")
    var iouType: String = "bbox"

    func validate() throws {
        guard COCOIoUType(rawValue: iouType) != nil else { throw ValidationError("--iou-type must be bbox or segm") }
        guard (gt == nil) == (dt == nil) else { throw ValidationError("give both --gt and --dt, or neither") }
        for f in [gt, dt].compactMap({ $0 }) where !FileIO.isFile(f) { throw ValidationError("\(f) is not a file") }
    }

    func run() throws {
        // The child process (`run-case`) receives only the case name; the files travel in the
        // environment, which it inherits.
        if let gt, let dt {
            setenv(EvalBench.gtVariable, FileIO.absolutePath(gt), 1)
            setenv(EvalBench.dtVariable, FileIO.absolutePath(dt), 1)
            setenv(EvalBench.iouVariable, iouType, 1)
        } else if !FileIO.isDirectory(options.data + "/coco/val2014_100") {
            Bench.log("eval: \(options.data)/coco/val2014_100 is absent and no --gt/--dt given; nothing to run")
            return
        }
        try Bench.runCases(Self.cases(data: options.data), area: "eval", options: options)
    }

    static let gtVariable = "DETR_BENCH_EVAL_GT"
    static let dtVariable = "DETR_BENCH_EVAL_DT"
    static let iouVariable = "DETR_BENCH_EVAL_IOU"

    static func cases(data: String) -> [BenchCase] {
        let env = ProcessInfo.processInfo.environment
        var pairs: [(name: String, gt: String, dt: String, iou: String)] = []
        var loadFile: String?
        if let gt = env[gtVariable], let dt = env[dtVariable] {
            let iou = env[iouVariable] ?? "bbox"
            pairs.append(("coco-\(iou)", gt, dt, iou))
            loadFile = gt
        } else {
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
        return out
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
