import ArgumentParser
import Datasets
import Eval
import Foundation
import NN
import Pipeline
import ToolSupport

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
        Class names come from the checkpoint (--classes or --num-classes for a bare .safetensors or .pth \
        file). Objects of classes the checkpoint does not know are left out of ground-truth/ \
        with a warning that counts them (the reference drops them silently).
        Differences from the reference, on purpose: boxes are clipped to the image (the \
        reference writes them unclipped); ground-truth coordinates are the XML's truncated to \
        integers (as voc-annotation reads them); modes 1 and 2 remove *.txt files of ids that \
        are not in the split from the folder they write, so that mode 3 evaluates exactly the \
        split; mode 4 builds the COCO data in memory (no coco_eval/*.json), with area w*h (the \
        reference's is w*h-10), image ids 1, 2, ... in sorted file order and annotation ids from 1.
        """)

    @Argument(help: "Checkpoint folder (model.safetensors + state.json) or a bare .safetensors or PyTorch .pth state dict; not read by mode 3.")
    var checkpoint: String = "logs/best"

    @Option(help: "0: detections, ground truth and VOC mAP; 1: detections; 2: ground truth; 3: VOC mAP; 4: COCO mAP.")
    var mode: Int = 0

    @OptionGroup var devkit: DevkitSplitOptions

    @Option(help: "Smallest score (exclusive) of the detections written by mode 1 (low, to get nearly every box).")
    var confidence: Double = 0.001

    @OptionGroup var map: VOCMapOutputOptions

    @OptionGroup var bare: CheckpointOptions

    @OptionGroup var analysis: AnalysisOptions

    func validate() throws {
        guard (0...4).contains(mode) else { throw ValidationError("--mode must be 0, 1, 2, 3 or 4") }
        guard confidence >= 0, confidence < 1 else { throw ValidationError("--confidence must be in [0, 1)") }
        if analysis.analysis != nil && mode != 4 { throw ValidationError("--analysis goes with --mode 4 (the COCO metrics)") }
        try analysis.checkImages()
    }

    func run() throws {
        try runReporting {
            // The devkit, split and images are checked before the (slow) model load.
            var split: (kit: VOCDevkit, ids: [String])?
            if mode == 0 || mode == 1 || mode == 2 {
                let kit = try devkit.open()
                split = (kit, try devkit.imageIDs(kit))
            }
            var classNames: [String] = []
            if mode == 0 || mode == 1, let split {
                let images = try devkit.imagePaths(split.kit, ids: split.ids)
                ToolIO.say("Load model.")
                let bundle = try loadModel()
                ToolIO.say("Load model done.")
                classNames = bundle.classNames
                ToolIO.say("Get predict result.")
                try writeDetections(bundle, ids: split.ids, images: images)
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
                let mAP = try map.evaluate(groundTruthFolder: map.groundTruthFolder, detectionFolder: map.detectionFolder).mAP
                ToolIO.say("Get map done.")
                ToolIO.say(String(format: "mAP@%.2f = %.3f", map.iou, mAP))
            }
            if mode == 4 {
                ToolIO.say("Get map.")
                try COCOCommand.evaluateFolders(groundTruthFolder: map.groundTruthFolder, detectionFolder: map.detectionFolder,
                                                classNames: classNames, json: map.json, analysis: analysis)
                ToolIO.say("Get map done.")
            }
        }
    }
}
