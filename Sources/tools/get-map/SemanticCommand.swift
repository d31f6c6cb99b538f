import ArgumentParser
import Datasets
import Eval
import Foundation
import Model
import Pipeline
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
        pixels holding --ignore-index (void) are left out. The classes are --classes FILE (line i \
        names class i) or --num-classes N. A class absent from both sides has no \
        IoU (nan) and is left out of mIoU; one absent from the ground truth is left out of mAcc. \
        A missing prediction, a size mismatch or a label that is not a class is an error naming \
        the file. \
        With --weights CHECKPOINT (a mask classifier) and --images DIR the checkpoint's semantic \
        segmentation (per pixel the class of highest semantic score) of each ground-truth map's \
        image (DIR/<stem>.*) is first written to --pred as a VOC palette PNG, classes matched to \
        --classes by name (without --classes: the checkpoint's classes, in its order); those are \
        then evaluated.
        """)

    @Option(help: "Ground-truth label PNG folder.")
    var gt: String

    @Option(help: "Predicted label PNG folder (the same stems).")
    var pred: String

    @Option(help: "Ground-truth label of void pixels, left out.")
    var ignoreIndex: Int = 255

    @Option(help: "Images evaluated at once (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Also write every number to this JSON file (fractions in [0, 1], null where undefined, classes keyed by name).")
    var json: String?

    /// --classes FILE (line i names class i) or --num-classes N: the number of classes (and,
    /// with --weights, the bare weights file's classes too).
    @OptionGroup var model: CheckpointRunOptions
    var classes: String? { model.bare.classes }
    var numClasses: Int? { model.bare.numClasses }

    @Option(help: "With --weights: the folder of the ground truth's images.")
    var images: String?

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        if classes != nil && numClasses != nil { throw ValidationError("give --classes FILE or --num-classes N, not both") }
        if classes == nil && numClasses == nil && model.weights == nil {
            throw ValidationError("give the classes: --classes FILE or --num-classes N (one of them)")
        }
        if model.weights != nil && images == nil { throw ValidationError("--weights needs --images DIR (the ground truth's images)") }
        if model.weights == nil && images != nil { throw ValidationError("--images goes with --weights") }
        if let numClasses, !(1...256).contains(numClasses) { throw ValidationError("--num-classes must be in 1 ... 256 (a label PNG's indices)") }
    }

    func run() throws {
        try runReporting {
            var names: [String?] = try classes.map { try ClassList.load($0).names } ?? []
            var classCount = numClasses ?? names.count
            if !FileIO.isDirectory(gt) { throw ToolError("\(gt): no such directory") }
            if let detector = try model.detector() {
                guard detector.bundle.config.value is any MaskClassifierConfig else {
                    throw ToolError("\(model.weights ?? ""): a \(detector.bundle.config.family) model predicts boxes; semantic labels need a mask classifier")
                }
                if classes == nil && numClasses == nil {
                    names = detector.bundle.classNames
                    classCount = names.count
                }
                try writeLabels(detector, names: names, classCount: classCount)
            }
            guard classCount <= 256 else { throw ToolError("\(classes ?? ""): \(classCount) classes; label PNGs hold at most 256") }
            if !FileIO.isDirectory(pred) { throw ToolError("\(pred): no such directory") }
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

    /// The checkpoint's label map of the image of every ground-truth PNG, written to --pred as
    /// `<stem>.png` (VOC palette): checkpoint class k is written as the index of its name in
    /// `names` (any class missing there is an error), or as k itself without names.
    func writeLabels(_ detector: Detector, names: [String?], classCount: Int) throws {
        let classNames = detector.bundle.classNames
        var index = Array(classNames.indices)
        if !names.isEmpty {
            let list = ClassList(names: names)
            for (k, name) in classNames.enumerated() {
                guard let i = list.id(of: name) else { throw ToolError("\(model.weights ?? ""): class '\(name)' is not in \(classes ?? "the classes")") }
                index[k] = i
            }
        } else if classNames.count > classCount {
            throw ToolError("\(model.weights ?? ""): \(classNames.count) classes, more than --num-classes \(classCount)")
        }
        guard index.allSatisfy({ $0 < 256 }) else { throw ToolError("\(model.weights ?? ""): class indices above 255 do not fit a label PNG") }
        let folder = images ?? ""
        var byStem: [String: String] = [:]
        for name in try FileIO.listDirectory(folder) where byStem[(name as NSString).deletingPathExtension] == nil {
            byStem[(name as NSString).deletingPathExtension] = name
        }
        let maps = try FileIO.listDirectory(gt).filter { $0.lowercased().hasSuffix(".png") }
        try FileIO.makeDirectories(pred)
        let bar = ProgressBar(label: "label maps", total: maps.count)
        for (i, map) in maps.enumerated() {
            let stem = String(map.dropLast(4))
            guard let name = byStem[stem] else {
                throw ToolError("\(folder): no image named \(stem).* for the ground truth's \(FileIO.join(gt, map))")
            }
            let path = FileIO.join(folder, name)
            let image = try ImageIO.load(path)
            let truth = try ImageIO.loadIndexed(FileIO.join(gt, map))
            if truth.width != image.width || truth.height != image.height {
                throw ToolError("\(path): \(image.width)x\(image.height) but \(truth.width)x\(truth.height) in the ground truth \(FileIO.join(gt, map))")
            }
            let labels = try detector.semanticLabels(image)
            guard labels.allSatisfy({ $0 < index.count }) else {
                throw ToolError("\(model.weights ?? ""): labels beyond its \(index.count) class names")
            }
            try ImageIO.saveIndexed(IndexedImage(width: image.width, height: image.height, indices: labels.map { UInt8(index[$0]) },
                                                 palette: IndexedImage.vocPalette), to: FileIO.join(pred, stem + ".png"))
            bar.update(i + 1, maps.count)
        }
        bar.finish()
        ToolIO.say("Label maps written to \(pred)")
    }
}
