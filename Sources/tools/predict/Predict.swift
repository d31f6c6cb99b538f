import ArgumentParser
import Base
import Datasets
import Foundation
import Model
import NN
import Pipeline
import Tensor
import ToolSupport

/// `predict`: runs a checkpoint on a folder of images (or one image) and draws what it finds,
/// as the reference predict.py does, with the detections also written as COCO results.
@main
struct Predict: ParsableCommand {
    static func main() {
        ProcessSetup.preferPassiveOpenMPThreads()
        Self.main(nil)
    }

    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Draw a DETR model's detections (boxes, class names, scores; masks) on images.",
        discussion: """
        INPUT is a folder (its files are recognised as images by their bytes, not their names; \
        other files are skipped with a note; sub-folders are not searched) or one image file. \
        For each image <stem>.<ext>, --out receives <stem>.png with every detection drawn: a box \
        and a label 'class score' in a stable colour per class, and, for a model with a \
        segmentation head, its mask tinted translucent in that colour. \
        --out/detections.json holds every detection in the COCO results format, a list of \
        {"image_id", "category_id", "bbox": [x, y, w, h], "score"} in image pixels, where image_id \
        is the image's 0-based index in the byte-sorted list of the folder's images and \
        category_id is the class index in the order of the class names (0-based, as the classes \
        file); each entry also carries "file_name" and "category_name", which COCO tools ignore. \
        An image that cannot be decoded is reported with its path and the run goes on; the exit \
        status is then non-zero. Outputs are written atomically (detections.json at most a second \
        after an image, and at the end), so an interrupted run keeps what it wrote.
        """)

    @Argument(help: "A folder of images, or one image file.")
    var input: String

    @Option(help: "A checkpoint folder (model.safetensors + state.json) or a bare .safetensors state dict.")
    var weights: String = "logs/best"

    @Option(help: "Output folder.")
    var out: String = "img_out"

    @Option(help: "Keep detections whose score is above this (0...1).")
    var confidence: Double = 0.5

    @OptionGroup var bare: CheckpointOptions

    @Option(help: "Shorter side of the network input (default: the checkpoint's, 800 for a bare file).")
    var inputSize: Int?

    @Flag(help: "Also write one PNG per detection, cut from the original image, to <out>/crops/ (<stem>_<k>_<class>.png).")
    var crop = false

    @Flag(help: "Print the number of objects per class for each image and in total.")
    var count = false

    @Option(help: "Only measure speed: N timed runs (decode excluded; preprocessing, network and post-processing included) on the first image after one warm-up; prints images/s and writes nothing.")
    var fps: Int?

    @Option(help: "Also write the raw network tensors to this .safetensors file: for each image <stem>, <stem>/input [1,3,H,W] (the normalised input), <stem>/mask [1,H,W] (0/1), <stem>/pred_logits [1,Q,C+1], <stem>/pred_boxes [1,Q,4] (cxcywh in [0,1]) and, with a segmentation head, <stem>/pred_masks.")
    var raw: String?

    func validate() throws {
        guard confidence.isFinite, confidence >= 0, confidence <= 1 else { throw ValidationError("--confidence must be in [0, 1]") }
        if let inputSize, inputSize < 1 { throw ValidationError("--input-size must be at least 1") }
        if let fps, fps < 1 { throw ValidationError("--fps must be at least 1") }
    }

    func run() throws {
        try runReporting {
            let inputs = try InputImages.collect(input)
            for name in inputs.skipped { ToolIO.say("note: skipping \(FileIO.join(input, name)): not an image") }
            let detector = Detector(bundle: try loadBundle())
            if let fps {
                try measureSpeed(detector, image: inputs.images[0], runs: fps)
                return
            }
            var run = PredictRun(detector: detector, options: self)
            try run.process(inputs.images)
            ToolIO.say("Results for \(inputs.images.count - run.failures) image(s), \(run.detectionCount) detection(s): \(out)")
            if run.failures > 0 {
                throw ToolError("\(run.failures) of \(inputs.images.count) image(s) could not be read (see above)")
            }
        }
    }

    /// A blank line of the classes file is an unused id; it keeps its place (as "N/A" in the
    /// official COCO list).
    func loadBundle() throws -> ModelBundle {
        try bare.load(weights, inputSize: inputSize) { _ in "N/A" }
    }

    func measureSpeed(_ detector: Detector, image: InputImage, runs: Int) throws {
        let decoded = try ImageIO.load(image.path)
        let threshold = Float(confidence)
        _ = try detector.detect(decoded, confidence: threshold)  // warm-up
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<runs { _ = try detector.detect(decoded, confidence: threshold) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        ToolIO.say(String(format: "%@ (%dx%d): %d runs in %.3f s, %.3f s per image, %.2f images/s",
                          image.fileName, decoded.width, decoded.height, runs, seconds, seconds / Double(runs), Double(runs) / seconds))
    }
}

/// The state of one run over the images: detections so far, counts, raw tensors, failures.
struct PredictRun {
    let detector: Detector
    let options: Predict
    var json = DetectionsJSON()
    var totals: [Int]
    var rawTensors: [String: Tensor] = [:]
    var failures = 0
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
        if options.count { ToolIO.say("total: \(PredictOutputs.countLine(totals, classNames: detector.bundle.classNames))") }
        if let raw = options.raw, !rawTensors.isEmpty {
            let dir = (raw as NSString).deletingLastPathComponent
            if !dir.isEmpty { try FileIO.makeDirectories(dir) }
            try SafeTensors.write(rawTensors, to: raw)
        }
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
        json.append(result.detections, image: item, classNames: names)
    }
}
