import ArgumentParser
import Datasets
import Eval
import Plots
import Report
import ToolSupport

/// The error-analysis flags of `get-map coco`, `get-map voc` and the model command's mode 4: the folder the
/// analysis files go to, the score threshold, the confusion matrix's IoU and the HTML report.
struct AnalysisOptions: ParsableArguments {
    @Option(help: "Write the error analysis to this folder (tide.json, per_class.csv, confusion.csv, confusion_normalised.csv, pr_curve.png, f1_curve.png, confusion_matrix.png, tide_errors.png) and print the per-class table and TIDE's errors (with --iou-type segm every IoU is a mask IoU).")
    var analysis: String?

    @Option(help: "With --analysis: score above which detections count for the per-class precision / recall / F1, the worst images and the confusion matrix.")
    var analysisScore: Double = 0.25

    @Option(help: "With --analysis: IoU above which the confusion matrix matches a detection to a ground truth.")
    var confusionIou: Double = 0.45

    @Flag(help: "With --analysis: also write report.html there, one self-contained page (figures embedded, no network).")
    var report = false

    @Option(help: "With --report: the folder of the ground truth's file_names (voc: <id>.jpg; mode 4: JPEGImages), to draw the worst images; with get-map coco --weights: the images the checkpoint runs on.")
    var images: String?

    func validate() throws {
        guard analysisScore.isFinite else { throw ValidationError("--analysis-score must be a number") }
        guard confusionIou >= 0, confusionIou < 1 else { throw ValidationError("--confusion-iou must be in [0, 1)") }
        if report && analysis == nil { throw ValidationError("--report needs --analysis DIR (the page is written there)") }
    }

    /// `--images` without `--report` is an error unless the command reads it otherwise
    /// (`otherUse`: the flag that does, given).
    func checkImages(otherUse: String? = nil, given: Bool = false) throws {
        if images != nil && !report && !given {
            throw ValidationError("--images goes with --report" + (otherUse.map { " or \($0)" } ?? ""))
        }
    }

    /// Evaluates, with the analysis when --analysis is given (COCOeval runs once either way).
    func evaluate(groundTruth gt: COCOInstances, results: [COCOResult],
                  params: COCOEvalParams) throws -> (result: COCOEvalResult, analysis: DetectionAnalysis?) {
        guard analysis != nil else {
            return (try COCOEvaluator(groundTruth: gt, results: results, params: params).run(), nil)
        }
        guard params.useCats else {
            throw ToolError("--analysis needs categories (TIDE and the confusion matrix compare classes): leave out --no-categories")
        }
        if let images, !FileIO.isDirectory(images) { throw ToolError("--images \(images): no such folder") }
        let a = try DetectionAnalysis(groundTruth: gt, results: results, params: params,
                                      scoreThreshold: analysisScore, confusionIoU: confusionIou)
        return (a.coco, a)
    }

    /// Writes the analysis files and figures to the --analysis folder (and report.html with
    /// --report) and prints its summary.
    func report(_ a: DetectionAnalysis?, groundTruth gt: COCOInstances, results: [COCOResult]) throws {
        guard let a, let analysis else { return }
        for (name, text) in a.files { try writeText(text, to: FileIO.join(analysis, name)) }
        let figures = try AnalysisPlots.write(a, to: analysis)
        ToolIO.say(a.summaryText.hasSuffix("\n") ? String(a.summaryText.dropLast()) : a.summaryText)
        if report {
            let page = AnalysisReport(analysis: a, groundTruth: gt, results: results, figures: figures, imagesDirectory: images)
            try writeText(page.html(), to: FileIO.join(analysis, "report.html"))
            ToolIO.say("Report written to \(FileIO.join(analysis, "report.html"))")
        }
        ToolIO.say("Analysis written to \(analysis)")
    }
}
