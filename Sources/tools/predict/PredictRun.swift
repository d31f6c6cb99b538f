import Datasets
import Foundation
import Model
import NN
import Pipeline
import Tensor
import ToolSupport

/// The state of one run over the images: detections so far, counts, raw tensors, failures.
struct PredictRun {
    let detector: Detector
    let options: Predict
    var json = DetectionsJSON()
    var totals: [Int]
    var rawTensors: [String: Tensor] = [:]
    var failures = 0
    /// A mask model's panoptic segments so far (the panoptic task).
    var panopticItems: [PanopticWriter.Item] = []
    var detectionCount: Int { json.count }

    init(detector: Detector, options: Predict) {
        self.detector = detector
        self.options = options
        totals = [Int](repeating: 0, count: detector.bundle.classNames.count)
    }

    mutating func process(_ images: [InputImage]) throws {
        try FileIO.makeDirectories(options.out)
        let cropFolder = FileIO.join(options.out, "crops")
        if options.crop { try FileIO.makeDirectories(cropFolder) }
        let jsonPath = FileIO.join(options.out, "detections.json")
        let bar = ProgressBar(label: "predict", total: images.count, minimumTotal: 2)
        var lastWrite: UInt64 = 0
        for (i, item) in images.enumerated() {
            bar.update(i, images.count, status: item.fileName)
            let image: RGBImage
            do {
                image = try ImageIO.load(item.path)
            } catch {
                bar.finish()
                ToolIO.printError("\(error)")
                failures += 1
                continue
            }
            try processImage(image, item, cropFolder: cropFolder)
            // Rewriting the whole file after every image would cost time quadratic in the
            // number of images; once a second bounds what a kill loses to a second's work.
            if DispatchTime.now().uptimeNanoseconds - lastWrite >= 1_000_000_000 {
                try writeText(json.text, to: jsonPath)
                lastWrite = DispatchTime.now().uptimeNanoseconds
            }
        }
        bar.update(images.count, images.count)
        bar.finish()
        try writeText(json.text, to: jsonPath)
        if detector.task == .panoptic { try writePanoptic() }
        if options.count { ToolIO.say("total: \(PredictOutputs.countLine(totals, classNames: detector.bundle.classNames))") }
        if let raw = options.raw, !rawTensors.isEmpty {
            let dir = (raw as NSString).deletingLastPathComponent
            if !dir.isEmpty { try FileIO.makeDirectories(dir) }
            try SafeTensors.write(rawTensors, to: raw)
        }
    }

    /// The panoptic task's outputs: `<out>/panoptic/<key>.png` (segment ids as R + 256 G +
    /// 256^2 B) and `<out>/panoptic.json` (COCO panoptic: image_id the image's index,
    /// category_id the class index, and the categories with their thing/stuff kind).
    func writePanoptic() throws {
        let bundle = detector.bundle
        guard bundle.segmentationTasks.contains(.panoptic) else { return }
        let names = bundle.classNames
        let categories = names.indices.map { PanopticCategory(id: $0, name: names[$0], isThing: bundle.isThing($0) ? 1 : 0) }
        try PanopticWriter.write(panopticItems, categoryIDs: Array(names.indices), categories: categories,
                                 json: FileIO.join(options.out, "panoptic.json"), folder: FileIO.join(options.out, "panoptic"))
    }

    mutating func processImage(_ image: RGBImage, _ item: InputImage, cropFolder: String) throws {
        let names = detector.bundle.classNames
        let prepared = detector.prepare(image)
        let output = detector.run(prepared)
        let result = try detector.postprocess(output, prepared: prepared, confidence: Float(options.confidence))
        try PredictOutputs.writeDrawing(image, result, classNames: names, key: item.key, out: options.out)
        if options.crop {
            try PredictOutputs.writeCrops(image, result.detections, classNames: names, key: item.key, folder: cropFolder)
        }
        if options.count {
            var counts = [Int](repeating: 0, count: names.count)
            for d in result.detections where d.label < counts.count { counts[d.label] += 1 }
            for (c, n) in counts.enumerated() { totals[c] += n }
            ToolIO.say("\(item.fileName): \(PredictOutputs.countLine(counts, classNames: names))")
        }
        if options.raw != nil {
            rawTensors.merge(PredictOutputs.rawTensors(prepared, output, key: item.key)) { a, _ in a }
        }
        json.append(result.detections, masks: result.masks, size: (image.height, image.width), image: item, classNames: names)
        if let labels = result.semantic {
            let folder = FileIO.join(options.out, "semantic")
            try FileIO.makeDirectories(folder)
            try ImageIO.saveIndexed(IndexedImage(width: image.width, height: image.height, indices: labels.map { UInt8(clamping: $0) },
                                                 palette: IndexedImage.vocPalette), to: FileIO.join(folder, item.key + ".png"))
        }
        if let panoptic = result.panoptic {
            panopticItems.append(PanopticWriter.Item(imageID: .int(item.index), fileName: item.key + ".png", prediction: panoptic))
        }
    }
}
