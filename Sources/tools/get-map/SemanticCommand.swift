import ArgumentParser
import Datasets
import Eval
import Foundation
import ToolSupport

/// `get-map semantic`: mIoU of predicted label maps against ground-truth label maps, with
/// mmsegmentation's per-class table and summary (mIoU, aAcc, mAcc).
struct SemanticCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "semantic",
        abstract: "Semantic segmentation: per-class IoU and accuracy, mIoU, aAcc, mAcc, as mmsegmentation.",
        discussion: """
        Both folders hold label PNGs (palette indices, such as VOC's SegmentationClass, or 8-bit \
        gray values): every --gt DIR/<stem>.png is compared with --pred DIR/<stem>.png. Ground-truth \
        pixels holding --ignore-index (void) are left out. A class absent from both sides has no \
        IoU (nan) and is left out of mIoU; one absent from the ground truth is left out of mAcc. \
        A missing prediction, a size mismatch or a label that is not a class is an error naming \
        the file.
        """)

    @Option(help: "Ground-truth label PNG folder.")
    var gt: String

    @Option(help: "Predicted label PNG folder (the same stems).")
    var pred: String

    @Option(help: "Classes file (line i names class i); its line count is the number of classes.")
    var classes: String?

    @Option(help: "Number of classes when no --classes file is given.")
    var numClasses: Int?

    @Option(help: "Ground-truth label of void pixels, left out.")
    var ignoreIndex: Int = 255

    @Option(help: "Images evaluated at once (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Also write every number to this JSON file (fractions in [0, 1], null where undefined, classes keyed by name).")
    var json: String?

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard (classes == nil) != (numClasses == nil) else {
            throw ValidationError("give the classes: --classes FILE or --num-classes N (one of them)")
        }
        if let numClasses, !(1...256).contains(numClasses) { throw ValidationError("--num-classes must be in 1 ... 256") }
    }

    func run() throws {
        try runReporting {
            let names: [String?] = try classes.map { try ClassList.load($0).names } ?? []
            let classCount = numClasses ?? names.count
            guard classCount <= 256 else { throw ToolError("\(classes ?? ""): \(classCount) classes; label PNGs hold at most 256") }
            for dir in [gt, pred] where !FileIO.isDirectory(dir) { throw ToolError("\(dir): no such directory") }
            let start = Date()
            ToolIO.say("Evaluating semantic segmentation: \(gt) (ground truth) against \(pred) (prediction), \(classCount) classes")
            let count = try FileIO.listDirectory(gt).filter { $0.lowercased().hasSuffix(".png") }.count
            let bar = ProgressBar(label: "images", total: count)
            let confusion = try SemanticConfusion.evaluateFolders(groundTruthFolder: gt, predictionFolder: pred, classCount: classCount,
                                                                  ignoreIndex: ignoreIndex, threads: threads, progress: bar.update)
            bar.finish()
            let result = confusion.result
            guard result.pixelCount > 0 else { throw ToolError("\(gt): every ground-truth pixel is void (\(ignoreIndex)); nothing to evaluate") }
            let text = result.text(classNames: names)
            ToolIO.say(String(text.dropLast()))
            ToolIO.say("Time elapsed: \(String(format: "%.2f", Date().timeIntervalSince(start))) seconds")
            if let json { try writeText(result.jsonText(classNames: names), to: json) }
        }
    }
}
