import ArgumentParser
import Datasets
import Eval
import Foundation
import ToolSupport

/// `get-map coco`: COCO mAP of a results file against an instances file, as pycocotools'
/// COCOeval (load, evaluate, accumulate, summarize).
struct COCOCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coco",
        abstract: "COCO mAP (bbox or segm) of detections, identical to pycocotools' COCOeval.",
        discussion: """
        Prints pycocotools' 12-line summary and the per-category AP table. Results with an image id \
        missing from the ground truth or a NaN/negative-size box are an error naming the offending \
        index (as pycocotools refuses them); --lenient skips and counts them instead. \
        With --weights CHECKPOINT and --images DIR the checkpoint is first run on every image of \
        the ground truth (DIR/<file_name>) and its detections written to --dt (with --iou-type \
        segm, their masks as compressed RLE: a model with masks, such as a mask classifier), \
        classes matched to categories by name; that file is then evaluated.
        """)

    @Option(help: "Ground-truth instances JSON.")
    var gt: String

    @Option(help: "Detection results JSON (a list of {image_id, category_id, bbox | segmentation, score}); with --weights, written first.")
    var dt: String

    @Option(help: "bbox or segm.")
    var iouType: String = "bbox"

    @Option(help: "Maximum detections per image for the three summary levels (comma-separated).")
    var maxDets: String = "1,10,100"

    @Flag(help: "Ignore categories (pycocotools' useCats = 0).")
    var noCategories = false

    @Flag(help: "Skip and count bad results instead of stopping.")
    var lenient = false

    @Option(help: "Also write every number to this JSON file ({\"stats\": [12], \"per_category\": {name: {ap, ...}}}).")
    var json: String?

    @OptionGroup var analysis: AnalysisOptions

    @OptionGroup var model: CheckpointRunOptions

    func validate() throws {
        guard COCOIoUType(rawValue: iouType) != nil else { throw ValidationError("--iou-type must be bbox or segm") }
        let dets = maxDets.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard dets.count == 3, dets.allSatisfy({ $0 > 0 }) else { throw ValidationError("--max-dets needs three positive integers, e.g. 1,10,100") }
        try analysis.checkImages(otherUse: "--weights", given: model.weights != nil)
        if model.weights != nil && analysis.images == nil { throw ValidationError("--weights needs --images DIR (the ground truth's images)") }
    }

    func run() throws {
        try runReporting {
            var params = COCOEvalParams(iouType: COCOIoUType(rawValue: iouType)!)
            params.maxDets = maxDets.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            params.useCats = !noCategories
            let start = Date()
            let gtData = try COCOInstances.load(gt)
            if let detector = try model.detector() {
                try model.writeResults(detector, groundTruth: gtData, images: analysis.images ?? "", masks: iouType == "segm", to: dt)
            }
            let results = try COCOResults.load(dt, groundTruth: gtData, lenient: lenient)
            for w in gtData.warnings + results.warnings {
                FileHandle.standardError.write(Data("get-map: warning: \(w)\n".utf8))
            }
            // ToolIO.say writes unbuffered, so that these lines and the analysis keep their order.
            ToolIO.say("Running per image evaluation...")
            ToolIO.say("Evaluate annotation type *\(iouType)*")
            let (result, details) = try analysis.evaluate(groundTruth: gtData, results: results.results, params: params)
            for block in [result.summaryText, result.perCategoryTable(gtData.categories)] where !block.isEmpty {
                ToolIO.say(block.hasSuffix("\n") ? String(block.dropLast()) : block)
            }
            try analysis.report(details, groundTruth: gtData, results: results.results)
            ToolIO.say("Time elapsed: \(String(format: "%.2f", Date().timeIntervalSince(start))) seconds")
            if let json { try writeText(result.jsonReport(gtData.categories), to: json) }
        }
    }

    /// The COCO bbox metrics of the two text folders of `get-map model` (its mode 4), printed
    /// as pycocotools does, with every number in `json` when given.
    static func evaluateFolders(groundTruthFolder: String, detectionFolder: String, classNames: [String], json: String?,
                                analysis: AnalysisOptions) throws {
        let data = try VOCToCOCO.load(groundTruthFolder: groundTruthFolder, detectionFolder: detectionFolder, classNames: classNames)
        for (what, counts) in [("ground-truth object", data.skippedGroundTruth), ("detection", data.skippedDetections)] where !counts.isEmpty {
            ToolIO.printError("warning: left out \(counts.values.reduce(0, +)) \(what)(s) of classes the checkpoint does not know: \(countList(counts))")
        }
        if data.results.isEmpty { ToolIO.printError("warning: \(detectionFolder) holds no detections") }
        ToolIO.say("Running per image evaluation...")
        ToolIO.say("Evaluate annotation type *bbox*")
        let (result, details) = try analysis.evaluate(groundTruth: data.groundTruth, results: data.results,
                                                      params: COCOEvalParams(iouType: .bbox))
        for block in [result.summaryText, result.perCategoryTable(data.groundTruth.categories)] where !block.isEmpty {
            ToolIO.say(block.hasSuffix("\n") ? String(block.dropLast()) : block)
        }
        try analysis.report(details, groundTruth: data.groundTruth, results: data.results)
        if let json { try writeText(result.jsonReport(data.groundTruth.categories), to: json) }
    }
}
