import ArgumentParser
import Augment
import Datasets
import Model
import Pipeline

/// What detr-train learns from: annotation lines or a COCO instances file with their images,
/// the classes, and how images become network inputs.
struct DataOptions: ParsableArguments {
    @Argument(help: "Training annotation lines (image path, then x1,y1,x2,y2,class per object).")
    var lines: String?

    @Option(help: "Validation annotation lines (validation loss, best checkpoint, COCO AP50 every --eval-period).")
    var val: String?

    @Option(help: "Classes file, one name a line (ids in file order).")
    var classes: String = "data/voc_classes.txt"

    @Option(help: "COCO instances file to train on instead of lines (classes from its categories unless --classes is given explicitly).")
    var coco: String?
    @Option(help: "Image folder of --coco.")
    var images: String?
    @Option(help: "COCO instances file for validation.")
    var cocoVal: String?
    @Option(help: "Image folder of --coco-val (or --coco-panoptic-val).")
    var valImages: String?
    @Option(help: "COCO panoptic JSON to train on (segment PNGs in --segments; classes from its categories, things and stuff). Trains a mask model's panoptic task.")
    var cocoPanoptic: String?
    @Option(help: "Segment PNG folder of --coco-panoptic (default: the folder named as the JSON beside it, else segments/ beside it).")
    var segments: String?
    @Option(help: "COCO panoptic JSON for validation (PQ every --eval-period).")
    var cocoPanopticVal: String?
    @Option(help: "Segment PNG folder of --coco-panoptic-val.")
    var valSegments: String?

    @Flag(help: "Train on masks: DETR's segmentation head (--model detr; with --weights <box checkpoint> the DETR part is frozen and only the mask head trains) on COCO segmentations or panoptic data, or the SegmentationObject PNGs of a VOC devkit's lines. Mask classifiers (--model mask2former) always train on masks.")
    var masks = false
    @Option(help: "Task of a mask model: instance (masks per object), panoptic (--coco-panoptic data) or semantic (mask2former on a VOC devkit's SegmentationClass PNGs; classes: background, then the classes file's). Default: panoptic for panoptic data, else instance.")
    var task: SegmentationTask?

    @Option(help: "Input size: shorter side (detr preset; longer side at most 1333 * size / 800) or square side (reference preset).")
    var inputSize: Int = 800
    @Option(help: "Transforms preset: detr (DETR's multi-scale recipe), reference (the detr-pytorch jitter + letterbox), flip (horizontal flips, native size), none.")
    var preset: Preset = .detr
    @Flag(help: "A missing or unreadable image in the lists is an error instead of a counted skip.")
    var strictImages = false

    /// Whether training data was named (lines, COCO or COCO panoptic).
    var hasTrainingData: Bool { lines != nil || coco != nil || cocoPanoptic != nil }

    /// Sets the data fields of `o`; reads the classes file (unless COCO categories name the
    /// classes and `--classes` was not given).
    func apply(to o: inout TrainOptions) throws {
        o.trainList = lines
        o.valList = val
        o.cocoTrain = coco
        o.cocoTrainImages = images
        o.cocoVal = cocoVal
        o.cocoValImages = valImages
        o.panopticTrain = cocoPanoptic
        o.panopticTrainSegments = segments
        o.panopticVal = cocoPanopticVal
        o.panopticValSegments = valSegments
        o.masks = masks
        o.task = task
        if cocoPanoptic != nil {
            if CommandLine.arguments.contains("--classes") {
                throw ValidationError("--coco-panoptic takes its classes from the JSON's categories: leave out --classes")
            }
        } else if coco == nil || CommandLine.arguments.contains("--classes") {
            o.classNames = try ClassList.load(classes).usedNames
        }
        o.inputSize = inputSize
        o.preset = preset
        o.skipBadImages = !strictImages
    }
}

extension SegmentationTask: ExpressibleByArgument {}
