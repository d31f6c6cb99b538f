import ArgumentParser
import Datasets
import Eval
import Foundation
import ToolSupport

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
        With --analysis DIR the folders are also read as COCO ground truth and results (every \
        class of either folder a category, difficult objects crowds, images <id>.jpg) for the \
        error analysis of 'get-map coco --analysis': the per-class table, curves, confusion \
        matrix, TIDE and, with --report, report.html (--images: the folder of the <id>.jpg files).
        """)

    @Option(help: "Ground-truth folder (default: <out>/ground-truth).")
    var gt: String?

    @Option(help: "Detection-results folder (default: <out>/detection-results).")
    var dr: String?

    @OptionGroup var map: VOCMapOutputOptions

    @OptionGroup var analysis: AnalysisOptions

    func validate() throws {
        try analysis.checkImages()
    }

    func run() throws {
        try runReporting {
            let gtFolder = gt ?? map.groundTruthFolder
            let input = try VOCMapInput.load(groundTruthFolder: gtFolder, detectionFolder: dr ?? map.detectionFolder)
            _ = try map.evaluate(input, groundTruthFolder: gtFolder)
            guard analysis.analysis != nil else { return }
            let data = VOCToCOCO.convert(input, classNames: VOCToCOCO.classNames(input))
            ToolIO.say("Error analysis (the folders as COCO boxes)")
            let (_, details) = try analysis.evaluate(groundTruth: data.groundTruth, results: data.results,
                                                     params: COCOEvalParams(iouType: .bbox))
            try analysis.report(details, groundTruth: data.groundTruth, results: data.results)
        }
    }
}
