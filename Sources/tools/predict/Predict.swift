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
        A mask classifier (Mask2Former) draws its instances (the top ones by score, boxes around \
        their masks) and lists them with their masks as COCO RLE ("segmentation"); with the \
        panoptic task it also writes COCO panoptic PNGs and JSON (see --task). DETR with its mask \
        head (detr-train --masks) lists its detections with their masks; its panoptic task (a \
        checkpoint trained on COCO panoptic data, or --task panoptic) is DETR's panoptic \
        post-processing (stuff classes from the checkpoint).
        """)

    @Argument(help: "A folder of images, or one image file.")
    var input: String

    @Option(help: "A checkpoint folder (model.safetensors + state.json) or a bare .safetensors or PyTorch .pth state dict (the official DETR checkpoints load as they are).")
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

    @Option(help: "A mask model's task (a mask classifier, or DETR with its mask head; default: its checkpoint's): instance draws and lists its instances; panoptic also writes <out>/panoptic/<stem>.png (segment ids as R + 256 G + 256^2 B, 0 = void) and <out>/panoptic.json (COCO panoptic, image_id and category_id as in detections.json), what 'get-map panoptic' reads; semantic (a mask classifier) draws and lists one region per class present (score 1) and writes <out>/semantic/<stem>.png (VOC palette PNG of class indices).")
    var task: SegmentationTask?

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
            // One image after another, of any sizes: the tensor cache keeps what the largest needs.
            Allocator.holdsAtMostPeak = true
            let bundle = try loadBundle()
            if let task, !bundle.segmentationTasks.contains(task) {
                let serves = bundle.segmentationTasks.isEmpty ? "predicts boxes, not masks"
                    : "serves " + bundle.segmentationTasks.map(\.rawValue).joined(separator: " and ")
                throw ToolError("--task \(task.rawValue): \(weights) is a \(bundle.config.family) model, which \(serves)")
            }
            let detector = Detector(bundle: bundle, task: task)
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

extension SegmentationTask: ExpressibleByArgument {}
