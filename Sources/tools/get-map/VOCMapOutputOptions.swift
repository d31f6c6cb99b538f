import ArgumentParser
import Datasets
import Eval
import Plots
import ToolSupport

/// The VOC mAP settings and outputs shared by `get-map voc` and the model command's modes 0
/// and 3: the IoU and score threshold, the 11-point variant, the output folder with its
/// results.txt and plots, and the JSON file.
struct VOCMapOutputOptions: ParsableArguments {
    @Option(help: "IoU a detection needs to match a ground-truth object (MINOVERLAP).")
    var iou: Double = 0.5

    @Option(help: "Score threshold of the reported precision, recall and F1.")
    var scoreThreshold: Double = 0.5

    @Option(help: "Output folder: results/ inside it (and the model command's ground-truth/ and detection-results/).")
    var out: String = "map_out"

    @Flag(help: "VOC2007 11-point interpolated AP instead of the all-point area (VOC2010+).")
    var elevenPoint = false

    @Flag(help: "Write results.txt only, no PNG plots.")
    var noPlots = false

    @Option(help: "Also write every number to this JSON file (fractions in [0, 1], classes keyed by name; the model command's mode 4: as 'get-map coco').")
    var json: String?

    func validate() throws {
        guard iou > 0, iou <= 1 else { throw ValidationError("--iou must be in (0, 1]") }
        guard scoreThreshold.isFinite else { throw ValidationError("--score-threshold must be a number") }
    }

    var groundTruthFolder: String { FileIO.join(out, "ground-truth") }
    var detectionFolder: String { FileIO.join(out, "detection-results") }

    /// The VOC mAP of two text folders with every output of the reference: the console lines,
    /// `<out>/results/results.txt`, the plots (unless --no-plots) and the JSON file.
    func evaluate(groundTruthFolder: String, detectionFolder: String) throws -> VOCMapResult {
        try evaluate(VOCMapInput.load(groundTruthFolder: groundTruthFolder, detectionFolder: detectionFolder),
                     groundTruthFolder: groundTruthFolder)
    }

    /// The same for folders already read.
    func evaluate(_ input: VOCMapInput, groundTruthFolder: String) throws -> VOCMapResult {
        let options = VOCMapOptions(minOverlap: iou, scoreThreshold: scoreThreshold, elevenPoint: elevenPoint)
        let result = VOCMap.evaluate(input, options: options)
        if result.classes.isEmpty {
            throw ToolError("\(groundTruthFolder): no ground-truth objects (all files empty or all objects difficult); nothing to evaluate")
        }
        for line in result.consoleLines() { ToolIO.say(line) }
        let resultsDir = FileIO.join(out, "results")
        try writeText(result.resultsText(), to: FileIO.join(resultsDir, "results.txt"))
        if !noPlots {
            let bar = ProgressBar(label: "plots", total: result.classes.count)
            try VOCMapPlots.write(result, to: resultsDir, progress: bar.update)
            bar.finish()
        }
        if let json { try writeText(result.jsonText(), to: json) }
        return result
    }
}
