import ArgumentParser
import Augment
import Datasets
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
    @Option(help: "Image folder of --coco-val.")
    var valImages: String?

    @Option(help: "Input size: shorter side (detr preset; longer side at most 1333 * size / 800) or square side (reference preset).")
    var inputSize: Int = 800
    @Option(help: "Transforms preset: detr (DETR's multi-scale recipe), reference (the detr-pytorch jitter + letterbox), flip (horizontal flips, native size), none.")
    var preset: Preset = .detr
    @Flag(help: "A missing or unreadable image in the lists is an error instead of a counted skip.")
    var strictImages = false

    /// Whether training data was named (lines or COCO).
    var hasTrainingData: Bool { lines != nil || coco != nil }

    /// Sets the data fields of `o`; reads the classes file (unless COCO categories name the
    /// classes and `--classes` was not given).
    func apply(to o: inout TrainOptions) throws {
        o.trainList = lines
        o.valList = val
        o.cocoTrain = coco
        o.cocoTrainImages = images
        o.cocoVal = cocoVal
        o.cocoValImages = valImages
        if coco == nil || CommandLine.arguments.contains("--classes") {
            o.classNames = try ClassList.load(classes).usedNames
        }
        o.inputSize = inputSize
        o.preset = preset
        o.skipBadImages = !strictImages
    }
}
