import Pipeline
import ArgumentParser
import Datasets
import Eval
import Foundation
import NN

/// `get-map [model] CHECKPOINT --mode 0..4`: the reference get_map.py of detr-pytorch. Runs a
/// checkpoint over the test split of a VOCdevkit and evaluates it with the VOC or COCO metric,
/// through the `map_out/ground-truth` and `map_out/detection-results` text folders.
struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "mAP of a checkpoint on a VOCdevkit split (get_map.py); the default mode of get-map.",
        discussion: """
        Modes, as get_map.py's map_mode: 1 runs the checkpoint on every image of \
        VOC<year>/ImageSets/Main/<split>.txt and writes <out>/detection-results/<id>.txt \
        ('class score left top right bottom': the score's first 6 characters and integer pixels, \
        as the reference writes them; detections with a score above --confidence); 2 writes \
        <out>/ground-truth/<id>.txt from the XML ('class left top right bottom', ' difficult' \
        appended for difficult objects); 3 computes the VOC mAP of the two folders as \
        'get-map voc' does (results in <out>/results) and ends with the line 'mAP@<iou> = <map>'; \
        4 computes the COCO metrics of the same folders (difficult objects as crowds) and prints \
        pycocotools' summary; 0 does 1, 2 and 3.
        Class names come from the checkpoint (--classes or --num-classes for a bare .safetensors \
        file). Objects of classes the checkpoint does not know are left out of ground-truth/ \
        with a warning that counts them (the reference drops them silently).
        Differences from the reference, on purpose: boxes are clipped to the image (the \
        reference writes them unclipped); ground-truth coordinates are the XML's truncated to \
        integers (as voc-annotation reads them); modes 1 and 2 remove *.txt files of ids that \
        are not in the split from the folder they write, so that mode 3 evaluates exactly the \
        split; mode 4 builds the COCO data in memory (no coco_eval/*.json), with area w*h (the \
        reference's is w*h-10), image ids 1, 2, ... in sorted file order and annotation ids from 1.
        """)

    @Argument(help: "Checkpoint folder (model.safetensors + state.json) or a bare .safetensors file; not read by mode 3.")
    var checkpoint: String = "logs/best"

    @Option(help: "0: detections, ground truth and VOC mAP; 1: detections; 2: ground truth; 3: VOC mAP; 4: COCO mAP.")
    var mode: Int = 0

    @Option(help: "The VOCdevkit folder.")
    var devkit: String = "VOCdevkit"

    @Option(help: "Devkit year: reads VOC<year>/.")
    var year: String = "2007"

    @Option(help: "Image set: VOC<year>/ImageSets/Main/<split>.txt.")
    var split: String = "test"

    @Option(help: "Smallest score (exclusive) of the detections written by mode 1 (low, to get nearly every box).")
    var confidence: Double = 0.001

    @Option(help: "Score threshold of the reported precision, recall and F1.")
    var scoreThreshold: Double = 0.5

    @Option(help: "IoU a detection needs to match a ground-truth object (MINOVERLAP).")
    var iou: Double = 0.5

    @Option(help: "Output folder: ground-truth/, detection-results/ and results/ inside it.")
    var out: String = "map_out"

    @Option(help: "Classes file, for a bare .safetensors checkpoint.")
    var classes: String?

    @Option(help: "Number of classes, for a bare .safetensors checkpoint without --classes (names class0, ...).")
    var numClasses: Int?

    @Option(help: "Attention heads, for a bare .safetensors checkpoint (default 8).")
    var heads: Int?

    @Flag(help: "VOC2007 11-point interpolated AP instead of the all-point area (modes 0 and 3).")
    var elevenPoint = false

    @Flag(help: "Write results.txt only, no PNG plots (modes 0 and 3).")
    var noPlots = false

    @Option(help: "Also write every number to this JSON file (modes 0 and 3: as 'get-map voc'; mode 4: as 'get-map coco').")
    var json: String?

    func validate() throws {
        guard (0...4).contains(mode) else { throw ValidationError("--mode must be 0, 1, 2, 3 or 4") }
        guard confidence >= 0, confidence < 1 else { throw ValidationError("--confidence must be in [0, 1)") }
        guard iou > 0, iou <= 1 else { throw ValidationError("--iou must be in (0, 1]") }
        guard scoreThreshold.isFinite else { throw ValidationError("--score-threshold must be a number") }
        if let numClasses, numClasses < 1 { throw ValidationError("--num-classes must be at least 1") }
        if let heads, heads < 1 { throw ValidationError("--heads must be at least 1") }
    }

    var groundTruthFolder: String { FileIO.join(out, "ground-truth") }
    var detectionFolder: String { FileIO.join(out, "detection-results") }

    func run() throws {
        try runReporting {
            // The devkit, split and images are checked before the (slow) model load.
            var split: (kit: VOCDevkit, ids: [String])?
            if mode == 0 || mode == 1 || mode == 2 {
                let kit = try openDevkit()
                split = (kit, try imageIDs(kit))
            }
            var imageFiles: [String: String] = [:]
            if mode == 0 || mode == 1, let split { imageFiles = try imagePaths(split.kit, ids: split.ids) }
            var classNames: [String] = []
            if mode == 0 || mode == 1, let split {
                ToolIO.say("Load model.")
                let bundle = try loadModel()
                ToolIO.say("Load model done.")
                classNames = bundle.classNames
                ToolIO.say("Get predict result.")
                try writeDetections(bundle, ids: split.ids, images: imageFiles)
                ToolIO.say("Get predict result done.")
            }
            if mode == 2 || mode == 4 { classNames = try loadClassNames() }
            if mode == 0 || mode == 2, let split {
                ToolIO.say("Get ground truth result.")
                try writeGroundTruth(classNames: classNames, devkit: split.kit, ids: split.ids)
                ToolIO.say("Get ground truth result done.")
            }
            if mode == 0 || mode == 3 {
                ToolIO.say("Get map.")
                let mAP = try vocMap()
                ToolIO.say("Get map done.")
                ToolIO.say(String(format: "mAP@%.2f = %.3f", iou, mAP))
            }
            if mode == 4 {
                ToolIO.say("Get map.")
                try cocoMap(classNames: classNames)
                ToolIO.say("Get map done.")
            }
        }
    }

    // MARK: - Steps

    /// The checkpoint, with class names usable in the text files (no whitespace).
    func loadModel() throws -> ModelBundle {
        var names: [String]?
        if let classes {
            let list = try ClassList.load(classes)
            names = list.names.enumerated().map { i, n in n ?? "class\(i)" }
        }
        let bundle = try ModelBundle.load(checkpoint, classNames: names, numClasses: numClasses, heads: heads)
        try checkClassNames(bundle.classNames)
        return bundle
    }

    /// The class names alone (modes 2 and 4 use no weights): a checkpoint folder's state.json is
    /// read without building the network; anything else (a bare .safetensors file, --classes,
    /// a folder that does not read cleanly) goes through the full load and its errors.
    func loadClassNames() throws -> [String] {
        if classes == nil, numClasses == nil, FileIO.isDirectory(checkpoint),
           FileIO.isFile(FileIO.join(checkpoint, Checkpoint.modelFile)),
           let state = try? CheckpointState.read(folder: checkpoint),
           state.problems().isEmpty {
            try checkClassNames(state.classNames)
            return state.classNames
        }
        return try loadModel().classNames
    }

    func checkClassNames(_ names: [String]) throws {
        if let bad = names.first(where: { $0.isEmpty || $0.contains(where: \.isWhitespace) }) {
            throw ToolError("\(checkpoint): class name '\(bad)' is empty or holds whitespace, which the map_out text files cannot hold")
        }
    }

    func openDevkit() throws -> VOCDevkit {
        guard FileIO.isDirectory(devkit) else {
            throw ToolError("\(devkit): no such VOCdevkit folder (--devkit)")
        }
        let kit = VOCDevkit(root: devkit, year: year)
        guard FileIO.isDirectory(kit.yearDirectory) else {
            throw ToolError("\(kit.yearDirectory): no such folder (--devkit holds no VOC\(year); see --year)")
        }
        return kit
    }

    /// The ids of the split, in file order (as the reference reads them).
    func imageIDs(_ kit: VOCDevkit) throws -> [String] {
        let path = FileIO.join(kit.imageSetsDirectory, split + ".txt")
        guard FileIO.isFile(path) else {
            throw ToolError("\(path): no such image set (voc-annotation --mode 1 writes it; see --split)")
        }
        let ids = try kit.readImageSet(split)
        guard !ids.isEmpty else { throw ToolError("\(path): the image set lists no images") }
        return ids
    }

    /// The image file of every id (`<id>.jpg` first, another image extension otherwise).
    func imagePaths(_ kit: VOCDevkit, ids: [String]) throws -> [String: String] {
        let files = try kit.imageFiles()
        var paths: [String: String] = [:]
        for id in ids {
            guard let name = files[id] else {
                throw ToolError("\(FileIO.join(kit.imagesDirectory, id + ".jpg")): no such image (listed in \(split).txt)")
            }
            paths[id] = FileIO.join(kit.imagesDirectory, name)
        }
        return paths
    }

    /// Mode 1: `detection-results/<id>.txt` for every image of the split.
    func writeDetections(_ bundle: ModelBundle, ids: [String], images: [String: String]) throws {
        try removeStaleFiles(in: detectionFolder, keeping: ids)
        let detector = Detector(bundle: bundle)
        let bar = ProgressBar(label: "detection-results", total: ids.count)
        var nonFinite = 0
        for (i, id) in ids.enumerated() {
            guard let path = images[id] else { throw ToolError("\(id): no image path (internal)") }
            let result = try detector.detect(try ImageIO.load(path), confidence: Float(confidence))
            var text = ""
            for d in result.detections {
                guard let line = Self.detectionLine(className: bundle.classNames[d.label], score: d.score,
                                                    x0: d.box.x0, y0: d.box.y0, x1: d.box.x1, y1: d.box.y1) else {
                    nonFinite += 1
                    continue
                }
                text += line + "\n"
            }
            try writeText(text, to: FileIO.join(detectionFolder, id + ".txt"))
            bar.update(i + 1, ids.count)
        }
        bar.finish()
        if nonFinite > 0 {
            ToolIO.printError("warning: left out \(nonFinite) detection(s) with a non-finite box (a diverged checkpoint?)")
        }
    }

    /// One line of a detection file as the reference's `get_map_txt` writes it:
    /// `"%s %s %s %s %s %s" % (class, str(score)[:6], int(left), int(top), int(right), int(bottom))`,
    /// where `str` of a float32 is its shortest round-trip form and `int` truncates toward zero.
    /// Nil for a non-finite box.
    static func detectionLine(className: String, score: Float, x0: Float, y0: Float, x1: Float, y1: Float) -> String? {
        let coords = [x0, y0, x1, y1]
        guard coords.allSatisfy({ $0.isFinite && abs($0) < 1e15 }), score.isFinite else { return nil }
        let scoreText = String(score.description.prefix(6))
        return "\(className) \(scoreText) " + coords.map { String(Int($0)) }.joined(separator: " ")
    }

    /// Mode 2: `ground-truth/<id>.txt` from `Annotations/<id>.xml` for every image of the split.
    func writeGroundTruth(classNames: [String], devkit kit: VOCDevkit, ids: [String]) throws {
        let known = Set(classNames)
        var unknown: [String: Int] = [:]
        try removeStaleFiles(in: groundTruthFolder, keeping: ids)
        let bar = ProgressBar(label: "ground-truth", total: ids.count)
        for (i, id) in ids.enumerated() {
            let path = kit.annotationPath(id)
            guard FileIO.isFile(path) else { throw ToolError("\(path): no such annotation (listed in \(split).txt)") }
            let annotation = try VOCAnnotation.load(path)
            var text = ""
            for object in annotation.objects {
                guard known.contains(object.name) else {
                    unknown[object.name, default: 0] += 1
                    continue
                }
                let b = object.box
                text += "\(object.name) \(b.xmin) \(b.ymin) \(b.xmax) \(b.ymax)" + (object.difficult ? " difficult\n" : "\n")
            }
            try writeText(text, to: FileIO.join(groundTruthFolder, id + ".txt"))
            bar.update(i + 1, ids.count)
        }
        bar.finish()
        if !unknown.isEmpty {
            let list = unknown.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value))" }.joined(separator: ", ")
            ToolIO.printError("warning: left out \(unknown.values.reduce(0, +)) object(s) of classes the checkpoint does not know: \(list)")
        }
    }

    /// Removes `<folder>/*.txt` files whose id is not in `ids` (left by a run on another split).
    func removeStaleFiles(in folder: String, keeping ids: [String]) throws {
        guard FileIO.isDirectory(folder) else { return }
        let keep = Set(ids.map { $0 + ".txt" })
        var removed = 0
        for name in try FileIO.listDirectory(folder) where name.hasSuffix(".txt") && !keep.contains(name) {
            do {
                try FileManager.default.removeItem(atPath: FileIO.join(folder, name))
            } catch {
                throw ToolError("\(FileIO.join(folder, name)): cannot remove a file of another run: \(error.localizedDescription)")
            }
            removed += 1
        }
        if removed > 0 { ToolIO.printError("note: removed \(removed) file(s) of ids not in \(split).txt from \(folder)") }
    }

    /// Mode 3: the VOC mAP of the two folders, as `get-map voc`. Returns the mAP.
    func vocMap() throws -> Double {
        let options = VOCMapOptions(minOverlap: iou, scoreThreshold: scoreThreshold, elevenPoint: elevenPoint)
        return try VOCCommand.evaluate(groundTruthFolder: groundTruthFolder, detectionFolder: detectionFolder,
                                       options: options, out: out, plots: !noPlots, json: json).mAP
    }

    /// Mode 4: COCO bbox metrics of the two folders, printed as pycocotools does.
    func cocoMap(classNames: [String]) throws {
        let data = try VOCToCOCO.load(groundTruthFolder: groundTruthFolder, detectionFolder: detectionFolder, classNames: classNames)
        for (what, counts) in [("ground-truth object", data.skippedGroundTruth), ("detection", data.skippedDetections)] where !counts.isEmpty {
            let list = counts.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value))" }.joined(separator: ", ")
            ToolIO.printError("warning: left out \(counts.values.reduce(0, +)) \(what)(s) of classes the checkpoint does not know: \(list)")
        }
        if data.results.isEmpty { ToolIO.printError("warning: \(detectionFolder) holds no detections") }
        ToolIO.say("Running per image evaluation...")
        ToolIO.say("Evaluate annotation type *bbox*")
        let result = try VOCToCOCO.evaluate(data)
        sayBlock(result.summaryText)
        sayBlock(result.perCategoryTable(data.groundTruth.categories))
        if let json { try writeText(result.jsonReport(data.groundTruth.categories), to: json) }
    }

    /// Writes a block of lines to stdout (without doubling its final newline).
    func sayBlock(_ text: String) {
        guard !text.isEmpty else { return }
        ToolIO.say(text.hasSuffix("\n") ? String(text.dropLast()) : text)
    }
}
