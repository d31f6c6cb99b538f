import Pipeline
import ArgumentParser
import Datasets
import Eval
import Foundation

/// `get-map voc`: the VOC mAP of the reference get_map.py (the Cartucho/mAP algorithm) over
/// the `ground-truth/` and `detection-results/` text folders.
struct VOCCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "voc",
        abstract: "VOC mAP (Cartucho/mAP algorithm) of detection-results/ against ground-truth/ text files.",
        discussion: """
        ground-truth/<id>.txt holds one object a line, 'class left top right bottom [difficult]'; \
        detection-results/<id>.txt one detection a line, 'class score left top right bottom'. \
        Class names may contain no spaces in these files. Both folders need the same file names \
        (an image without detections has an empty file).
        Writes <out>/results/results.txt in the reference's format and, unless --no-plots, the \
        plots results/AP/<class>.png, results/Precision/, results/Recall/, results/F1/, \
        results/mAP.png and results/ground-truth-info.png. Precision, recall and F1 are those of \
        the detections with score >= --score-threshold.
        """)

    @Option(help: "Ground-truth folder (default: <out>/ground-truth).")
    var gt: String?

    @Option(help: "Detection-results folder (default: <out>/detection-results).")
    var dr: String?

    @Option(help: "IoU a detection needs to match a ground-truth object (MINOVERLAP).")
    var iou: Double = 0.5

    @Option(help: "Score threshold of the reported precision, recall and F1.")
    var scoreThreshold: Double = 0.5

    @Option(help: "Output folder: results/ is written inside it.")
    var out: String = "map_out"

    @Flag(help: "VOC2007 11-point interpolated AP instead of the all-point area (VOC2010+).")
    var elevenPoint = false

    @Flag(help: "Write results.txt only, no PNG plots.")
    var noPlots = false

    @Option(help: "Also write every number to this JSON file (fractions in [0, 1], classes keyed by name).")
    var json: String?

    func validate() throws {
        guard iou > 0, iou <= 1 else { throw ValidationError("--iou must be in (0, 1]") }
        guard scoreThreshold.isFinite else { throw ValidationError("--score-threshold must be a number") }
    }

    func run() throws {
        try runReporting {
            let gtFolder = gt ?? FileIO.join(out, "ground-truth")
            let drFolder = dr ?? FileIO.join(out, "detection-results")
            let options = VOCMapOptions(minOverlap: iou, scoreThreshold: scoreThreshold, elevenPoint: elevenPoint)
            _ = try Self.evaluate(groundTruthFolder: gtFolder, detectionFolder: drFolder, options: options, out: out,
                                  plots: !noPlots, json: json)
        }
    }

    /// The VOC mAP of two text folders with every output of the reference: the console lines,
    /// `<out>/results/results.txt`, the plots (unless `plots` is false) and the JSON file.
    /// Shared by `get-map voc` and the model mode 3.
    static func evaluate(groundTruthFolder: String, detectionFolder: String, options: VOCMapOptions, out: String,
                         plots: Bool, json: String?) throws -> VOCMapResult {
        let input = try VOCMapInput.load(groundTruthFolder: groundTruthFolder, detectionFolder: detectionFolder)
        let result = VOCMap.evaluate(input, options: options)
        if result.classes.isEmpty {
            throw ToolError("\(groundTruthFolder): no ground-truth objects (all files empty or all objects difficult); nothing to evaluate")
        }
        for line in result.consoleLines() { ToolIO.say(line) }
        let resultsDir = FileIO.join(out, "results")
        try writeText(result.resultsText(), to: FileIO.join(resultsDir, "results.txt"))
        if plots {
            let bar = ProgressBar(label: "plots", total: result.classes.count)
            try VOCMapPlots.write(result, to: resultsDir, progress: bar.update)
            bar.finish()
        }
        if let json { try writeText(result.jsonText(), to: json) }
        return result
    }
}
