import Pipeline
import ArgumentParser
import Datasets
import Eval
import Foundation
import Report
import ToolSupport

/// `get-map panoptic`: panoptic quality with panopticapi's pq_compute semantics.
struct PanopticCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "panoptic",
        abstract: "Panoptic quality (PQ, SQ, RQ) of COCO panoptic predictions, as panopticapi's pq_compute.",
        discussion: """
        Both sides are COCO panoptic JSON files with a folder of PNGs whose pixels hold segment \
        ids (R + 256 G + 256^2 B, 0 = void). Images are evaluated in parallel. After \
        panopticapi's table comes the per-category table (PQ, SQ, RQ, TP, FP, FN of each \
        category with segments); --analysis DIR writes it for every category as per_class.csv \
        and, with --report, report.html (one self-contained page, the table sortable). \
        With --weights CHECKPOINT (a mask classifier, or DETR with its mask head) and --images DIR the checkpoint's panoptic \
        segmentation of each ground-truth image (DIR/<stem>.*, the stem of the annotation's PNG) \
        is first written as --pred-json and its folder, classes matched to categories by name; \
        those are then evaluated.
        """)

    @Option(help: "Ground-truth panoptic JSON.")
    var gtJson: String

    @Option(help: "Ground-truth PNG folder (default: the JSON's path without .json).")
    var gtFolder: String?

    @Option(help: "Predicted panoptic JSON.")
    var predJson: String

    @Option(help: "Predicted PNG folder (default: the JSON's path without .json).")
    var predFolder: String?

    @Option(help: "Images evaluated at once (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Also write every number to this JSON file (fractions in [0, 1], classes keyed by name).")
    var json: String?

    @Option(help: "Write the per-category table of every category to this folder (per_class.csv).")
    var analysis: String?

    @Flag(help: "With --analysis: also write report.html there, one self-contained page (no network).")
    var report = false

    @OptionGroup var model: CheckpointRunOptions

    @Option(help: "With --weights: the folder of the ground truth's images.")
    var images: String?

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        if report && analysis == nil { throw ValidationError("--report needs --analysis DIR (the page is written there)") }
        if model.weights != nil && images == nil { throw ValidationError("--weights needs --images DIR (the ground truth's images)") }
        if model.weights == nil && images != nil { throw ValidationError("--images goes with --weights") }
    }

    static func folder(beside json: String) -> String {
        json.hasSuffix(".json") ? String(json.dropLast(5)) : json
    }

    func run() throws {
        try runReporting {
            let gtDir = gtFolder ?? Self.folder(beside: gtJson)
            let predDir = predFolder ?? Self.folder(beside: predJson)
            if let detector = try model.detector(task: .panoptic) {
                if !FileIO.isDirectory(gtDir) { throw ToolError("\(gtDir): no such directory") }
                try model.writePanoptic(detector, groundTruth: try COCOPanoptic.load(gtJson), images: images ?? "", json: predJson, folder: predDir)
            }
            for dir in [gtDir, predDir] where !FileIO.isDirectory(dir) {
                throw ToolError("\(dir): no such directory")
            }
            let start = Date()
            print("Evaluation panoptic segmentation metrics:")
            print("Ground truth:")
            print("\tSegmentation folder: \(gtDir)")
            print("\tJSON file: \(gtJson)")
            print("Prediction:")
            print("\tSegmentation folder: \(predDir)")
            print("\tJSON file: \(predJson)")
            let gt = try COCOPanoptic.load(gtJson)
            let pred = try COCOPanoptic.load(predJson)
            let bar = ProgressBar(label: "images", total: gt.annotations.count)
            let result = try PanopticQuality.evaluate(groundTruth: gt, groundTruthFolder: gtDir, prediction: pred,
                                                      predictionFolder: predDir, predictionJSON: predJson,
                                                      threads: threads, progress: bar.update)
            bar.finish()
            print(result.tableText(), terminator: "")
            print(result.perCategoryText(), terminator: "")
            print("Time elapsed: \(String(format: "%.2f", Date().timeIntervalSince(start))) seconds")
            if let json { try writeText(result.jsonText(), to: json) }
            if let analysis {
                try writeText(result.perCategoryCSV, to: FileIO.join(analysis, "per_class.csv"))
                if report {
                    try writeText(PanopticAnalysisReport(result: result).html(), to: FileIO.join(analysis, "report.html"))
                    print("Report written to \(FileIO.join(analysis, "report.html"))")
                }
                print("Analysis written to \(analysis)")
            }
        }
    }
}
