import ArgumentParser
import Datasets
#if canImport(Glibc)
import Glibc
import ToolSupport
#endif

/// Writes the ImageSets split of a VOCdevkit and the `2007_train.txt` / `2007_val.txt`
/// annotation lines, like the reference voc_annotation.py, with flags instead of constants.
@main
struct VOCAnnotationCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "voc-annotation",
        abstract: "Split a Pascal VOC devkit and write the annotation lines used for training.",
        discussion: """
        Mode 1 writes VOC<year>/ImageSets/Main/{trainval,train,val,test}.txt; mode 2 writes \
        <year>_train.txt and <year>_val.txt (one image per line: absolute path, then \
        x1,y1,x2,y2,class for each object) into --output-dir from those lists; mode 0 does both.
        The split is reproducible: ids sorted, a Fisher-Yates shuffle driven by SplitMix64 \
        seeded with --seed, the first int(n*trainval) ids are trainval and the first \
        int(trainval*train) of those are train. Objects marked difficult and objects of classes \
        not in --classes are left out of the lines. With --image-sets segmentation, mode 2 reads \
        the devkit's ImageSets/Segmentation/{train,val}.txt instead (the images with \
        SegmentationObject and SegmentationClass PNGs, which must exist; --check also reads them \
        and pairs their object indices with the XML's objects).
        """)

    @Argument(help: "The VOCdevkit folder (holding VOC<year>/Annotations and JPEGImages).")
    var devkit: String = "VOCdevkit"

    @Option(help: "0: split and write lines; 1: split only; 2: lines only (from existing ImageSets).")
    var mode: Int = 0

    @Option(help: "Classes file, one name per line (line index = class id).")
    var classes: String = "data/voc_classes.txt"

    @Option(help: "Fraction of the images in trainval (the rest is test).")
    var trainvalPercent: Double = 0.9

    @Option(help: "Fraction of trainval in train (the rest is val).")
    var trainPercent: Double = 0.9

    @Option(help: "Devkit year: reads VOC<year>/ and writes <year>_train.txt.")
    var year: String = "2007"

    @Option(help: "Seed of the split's shuffle.")
    var seed: UInt64 = 0

    @Option(help: "Folder for <year>_train.txt and <year>_val.txt.")
    var outputDir: String = "."

    @Option(help: "Image-set lists of mode 2: main (ImageSets/Main, the split of mode 1) or segmentation (ImageSets/Segmentation, as the devkit ships them).")
    var imageSets: VOCImageSets = .main

    @Flag(help: "Report suspicious boxes (zero area, xmax < xmin, outside the image) and decode every image of train, val and test, comparing its size with the XML. Boxes stay in the lines, as the reference writes them.")
    var check = false

    @Option(help: "Threads for --check's image decoding (default: all cores).")
    var threads: Int = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))

    func validate() throws {
        guard (0...2).contains(mode) else { throw ValidationError("--mode must be 0, 1 or 2") }
        guard (0...1).contains(trainvalPercent), (0...1).contains(trainPercent) else {
            throw ValidationError("--trainval-percent and --train-percent must be in [0, 1]")
        }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard imageSets == .main || mode == 2 else {
            throw ValidationError("--image-sets segmentation reads the devkit's ImageSets/Segmentation lists: use --mode 2 (the split of modes 0 and 1 writes ImageSets/Main)")
        }
    }

    func run() throws {
        try runReporting(runChecked)
    }

    func runChecked() throws {
        let kit = VOCDevkit(root: devkit, year: year)
        guard FileIO.isDirectory(kit.yearDirectory) else {
            throw ToolError("\(kit.yearDirectory): not found (expected <devkit>/VOC\(year) with Annotations and JPEGImages)")
        }
        if mode != 1, kit.root.contains(where: { $0.isWhitespace }) {
            throw ToolError("\(kit.root): the devkit path contains whitespace, which the annotation-lines format cannot hold; move it to a path without spaces")
        }
        let classList = mode != 1 ? try ClassList.load(classes) : nil
        let imageFiles = try kit.imageFiles()

        if mode == 0 || mode == 1 { try writeSplit(kit, imageFiles: imageFiles) }
        if mode == 0 || mode == 2, let classList { try writeLines(kit, classList: classList, imageFiles: imageFiles) }
    }
}
