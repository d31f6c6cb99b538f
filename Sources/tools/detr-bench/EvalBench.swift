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
}
