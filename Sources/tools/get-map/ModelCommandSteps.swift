import Datasets
import Eval
import NN
import Pipeline
import Tensor
import ToolSupport

/// The steps of `get-map model`: the checkpoint, and the two text folders it writes.
extension ModelCommand {
    /// The checkpoint, with class names usable in the text files (no whitespace).
    func loadModel() throws -> ModelBundle {
        let bundle = try bare.load(checkpoint) { "class\($0)" }
        try checkClassNames(bundle.classNames)
        return bundle
    }

    /// The class names alone (modes 2 and 4 use no weights): a checkpoint folder's state.json is
    /// read without building the network; anything else (a bare .safetensors or .pth file, --classes,
    /// a folder that does not read cleanly) goes through the full load and its errors.
    func loadClassNames() throws -> [String] {
        if bare.classes == nil, bare.numClasses == nil, FileIO.isDirectory(checkpoint),
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

    /// Mode 1: `detection-results/<id>.txt` for every image of the split.
    func writeDetections(_ bundle: ModelBundle, ids: [String], images: [String: String]) throws {
        let folder = map.detectionFolder
        try removeStaleFiles(in: folder, keeping: ids)
        // One image after another, of any sizes: the tensor cache keeps what the largest needs.
        Allocator.holdsAtMostPeak = true
        let detector = Detector(bundle: bundle)
        let bar = ProgressBar(label: "detection-results", total: ids.count)
        var nonFinite = 0
        for (i, id) in ids.enumerated() {
            guard let path = images[id] else { throw ToolError("\(id): no image path (internal)") }
            let result = try detector.detect(try ImageIO.load(path), confidence: Float(confidence))
            var text = ""
            for d in result.detections {
                guard let line = VOCMapFolders.detectionLine(className: bundle.classNames[d.label], score: d.score,
                                                             x0: d.box.x0, y0: d.box.y0, x1: d.box.x1, y1: d.box.y1) else {
                    nonFinite += 1
                    continue
                }
                text += line + "\n"
            }
            try writeText(text, to: FileIO.join(folder, id + ".txt"))
            bar.update(i + 1, ids.count)
        }
        bar.finish()
        if nonFinite > 0 {
            ToolIO.printError("warning: left out \(nonFinite) detection(s) with a non-finite box (a diverged checkpoint?)")
        }
    }

    /// Mode 2: `ground-truth/<id>.txt` from `Annotations/<id>.xml` for every image of the split.
    func writeGroundTruth(classNames: [String], devkit kit: VOCDevkit, ids: [String]) throws {
        let folder = map.groundTruthFolder
        let known = Set(classNames)
        var unknown: [String: Int] = [:]
        try removeStaleFiles(in: folder, keeping: ids)
        let bar = ProgressBar(label: "ground-truth", total: ids.count)
        for (i, id) in ids.enumerated() {
            let path = kit.annotationPath(id)
            guard FileIO.isFile(path) else { throw ToolError("\(path): no such annotation (listed in \(devkit.split).txt)") }
            let file = VOCMapFolders.groundTruthText(try VOCAnnotation.load(path), known: known)
            unknown.merge(file.unknown, uniquingKeysWith: +)
            try writeText(file.text, to: FileIO.join(folder, id + ".txt"))
            bar.update(i + 1, ids.count)
        }
        bar.finish()
        if !unknown.isEmpty {
            ToolIO.printError("warning: left out \(unknown.values.reduce(0, +)) object(s) of classes the checkpoint does not know: \(countList(unknown))")
        }
    }

    /// Removes `<folder>/*.txt` files whose id is not in `ids` (left by a run on another split).
    func removeStaleFiles(in folder: String, keeping ids: [String]) throws {
        let removed = try VOCMapFolders.removeFiles(in: folder, notIn: ids)
        if removed > 0 { ToolIO.printError("note: removed \(removed) file(s) of ids not in \(devkit.split).txt from \(folder)") }
    }
}

/// `name (count), ...` sorted by name.
func countList(_ counts: [String: Int]) -> String {
    counts.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value))" }.joined(separator: ", ")
}
