import ArgumentParser
import Datasets
import Eval
import ToolSupport

/// The error-analysis flags of `get-map coco` and the model command's mode 4: the folder the
/// analysis files go to, the score threshold and the confusion matrix's IoU.
struct AnalysisOptions: ParsableArguments {
    @Option(help: "Write the error analysis to this folder (tide.json, per_class.csv, confusion.csv, confusion_normalised.csv) and print the per-class table and TIDE's errors (boxes only).")
    var analysis: String?

    @Option(help: "With --analysis: score above which detections count for the per-class precision / recall / F1 and the confusion matrix.")
    var analysisScore: Double = 0.25

    @Option(help: "With --analysis: IoU above which the confusion matrix matches a detection to a ground truth.")
    var confusionIou: Double = 0.45

    func validate() throws {
        guard analysisScore.isFinite else { throw ValidationError("--analysis-score must be a number") }
        guard confusionIou >= 0, confusionIou < 1 else { throw ValidationError("--confusion-iou must be in [0, 1)") }
    }

    /// Evaluates, with the analysis when --analysis is given (COCOeval runs once either way).
    func evaluate(groundTruth gt: COCOInstances, results: [COCOResult],
                  params: COCOEvalParams) throws -> (result: COCOEvalResult, analysis: DetectionAnalysis?) {
        guard analysis != nil else {
            return (try COCOEvaluator(groundTruth: gt, results: results, params: params).run(), nil)
        }
        guard params.iouType == .bbox, params.useCats else {
            throw ToolError("--analysis needs --iou-type bbox with categories (TIDE and the confusion matrix compare boxes)")
        }
        let a = try DetectionAnalysis(groundTruth: gt, results: results, params: params,
                                      scoreThreshold: analysisScore, confusionIoU: confusionIou)
        return (a.coco, a)
    }

    /// Writes the analysis files to the --analysis folder and prints its summary.
    func report(_ a: DetectionAnalysis?) throws {
        guard let a, let analysis else { return }
        for (name, text) in a.files { try writeText(text, to: FileIO.join(analysis, name)) }
        ToolIO.say(a.summaryText.hasSuffix("\n") ? String(a.summaryText.dropLast()) : a.summaryText)
        ToolIO.say("Analysis written to \(analysis)")
    }
}
