import ArgumentParser
import Datasets
import Foundation
import Model
import NN
import Pipeline
import Tensor
import ToolSupport

/// `--weights` of `get-map coco` and `get-map panoptic`: the checkpoint is run over the ground
/// truth's images (the mode's `--images`) first and its predictions written where the mode reads them
/// (`--dt`, `--pred-json`), which are then evaluated as any other file. Classes meet
/// categories by name.
struct CheckpointRunOptions: ParsableArguments {
    @Option(help: "Run this checkpoint (folder or bare .safetensors / .pth) over the ground truth's images first, writing the predictions that are then evaluated.")
    var weights: String?

    @Option(help: "With --weights: smallest score (exclusive) of the detections or instances written.")
    var confidence: Double = 0.001

    @OptionGroup var bare: CheckpointOptions

    func validate() throws {
        guard confidence >= 0, confidence < 1 else { throw ValidationError("--confidence must be in [0, 1)") }
    }

    /// The checkpoint's detector for `task` (nil: boxes, or a mask model's instances).
    func detector(task: SegmentationTask? = nil) throws -> Detector? {
        guard let weights else { return nil }
        ToolIO.say("Load model \(weights).")
        let bundle = try bare.load(weights) { "class\($0)" }
        if let task, !bundle.segmentationTasks.contains(task) {
            throw ToolError("\(weights): a \(bundle.config.family) model \(bundle.segmentationTasks.isEmpty ? "predicts boxes" : "has no \(task.rawValue) results"); "
                            + "\(task.rawValue) segments need a mask classifier\(task == .semantic ? "" : " or DETR's mask head")")
        }
        // One image after another, of any sizes: the tensor cache keeps what the largest needs.
        Allocator.holdsAtMostPeak = true
        return Detector(bundle: bundle, task: task)
    }

    /// The category id of each class of the checkpoint, by name (nil: no category of that name).
    static func categoryIDs<ID>(classNames: [String], categories: [(id: ID, name: String)]) -> [ID?] {
        var byName: [String: ID] = [:]
        for c in categories where byName[c.name] == nil { byName[c.name] = c.id }
        return classNames.map { byName[$0] }
    }

    /// A COCO results file (`[{image_id, category_id, bbox, score[, segmentation]}]`) of the
    /// checkpoint's detections on every image of `gt`; with `masks`, each result's mask as
    /// compressed RLE (a model without masks is an error). Detections of classes that are not
    /// categories of `gt` are left out with a warning that counts them.
    func writeResults(_ detector: Detector, groundTruth gt: COCOInstances, images folder: String, masks: Bool, to path: String) throws {
        let names = detector.bundle.classNames
        let ids = Self.categoryIDs(classNames: names, categories: gt.categories.map { ($0.id, $0.name) })
        var entries: [String] = []
        var unknown: [String: Int] = [:]
        let bar = ProgressBar(label: "results", total: gt.images.count)
        for (i, image) in gt.images.enumerated() {
            let file = FileIO.join(folder, image.fileName)
            let decoded = try ImageIO.load(file)
            if decoded.width != image.width || decoded.height != image.height {
                throw ToolError("\(file): \(decoded.width)x\(decoded.height) but \(image.width)x\(image.height) in the ground truth")
            }
            let result = try detector.detect(decoded, confidence: Float(confidence))
            if masks && result.masks == nil {
                throw ToolError("\(weights ?? ""): a \(detector.bundle.config.family) model without masks cannot be evaluated with --iou-type segm")
            }
            for (k, d) in result.detections.enumerated() {
                guard let category = ids[d.label] else {
                    unknown[names[d.label], default: 0] += 1
                    continue
                }
                let b = d.box
                guard [b.x0, b.y0, b.x1, b.y1, d.score].allSatisfy(\.isFinite) else { continue }
                var entry = "{\"image_id\": \(image.id), \"category_id\": \(category), \"bbox\": [\(b.x0), \(b.y0), \(b.x1 - b.x0), \(b.y1 - b.y0)], \"score\": \(d.score)"
                if masks, let mask = result.masks?[k] {
                    entry += ", \"segmentation\": " + RLE(rowMajor: mask, height: image.height, width: image.width).resultJSON
                }
                entries.append(entry + "}")
            }
            bar.update(i + 1, gt.images.count)
        }
        bar.finish()
        if !unknown.isEmpty {
            ToolIO.printError("warning: left out \(unknown.values.reduce(0, +)) detection(s) of classes that are not categories of the ground truth: \(countList(unknown))")
        }
        try writeText(entries.isEmpty ? "[]\n" : "[\n  " + entries.joined(separator: ",\n  ") + "\n]\n", to: path)
        ToolIO.say("Results written to \(path)")
    }

    /// COCO panoptic predictions (PNGs in `folder`, JSON at `json`) of the checkpoint on the
    /// image of every annotation of `gt`: the image in `imageFolder` whose name without extension
    /// is the annotation's PNG name without extension. Every class must be a category of `gt`.
    func writePanoptic(_ detector: Detector, groundTruth gt: COCOPanoptic, images imageFolder: String, json: String, folder: String) throws {
        let names = detector.bundle.classNames
        let ids = Self.categoryIDs(classNames: names, categories: gt.categories.map { ($0.id, $0.name) })
        if let missing = ids.firstIndex(where: { $0 == nil }) {
            throw ToolError("\(weights ?? ""): class '\(names[missing])' is not a category of the ground truth")
        }
        var byStem: [String: String] = [:]
        for name in try FileIO.listDirectory(imageFolder) { byStem[(name as NSString).deletingPathExtension] = name }
        var items: [PanopticWriter.Item] = []
        let bar = ProgressBar(label: "segments", total: gt.annotations.count)
        for (i, annotation) in gt.annotations.enumerated() {
            let stem = (annotation.fileName as NSString).deletingPathExtension
            guard let name = byStem[stem] else {
                throw ToolError("\(imageFolder): no image named \(stem).* for the ground truth's \(annotation.fileName)")
            }
            let result = try detector.detect(try ImageIO.load(FileIO.join(imageFolder, name)), confidence: Float(confidence))
            guard let prediction = result.panoptic else { throw ToolError("\(weights ?? ""): no panoptic output (internal)") }
            items.append(PanopticWriter.Item(imageID: annotation.imageID, fileName: stem + ".png", prediction: prediction))
            bar.update(i + 1, gt.annotations.count)
        }
        bar.finish()
        try PanopticWriter.write(items, categoryIDs: ids.map { $0 ?? 0 }, json: json, folder: folder)
        ToolIO.say("Predictions written to \(json) and \(folder)")
    }
}
