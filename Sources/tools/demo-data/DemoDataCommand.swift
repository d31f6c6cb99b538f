import ArgumentParser
import Base
import Datasets
import ToolSupport

/// Generates the embedded default data set: a VOCdevkit of synthetic shape images.
@main
struct DemoDataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo-data",
        abstract: "Write a synthetic VOCdevkit (circles, squares, triangles on noisy backgrounds).",
        discussion: """
        Writes <output>/VOCdevkit/VOC<year>/{Annotations,JPEGImages} and <output>/classes.txt. \
        The same --seed gives the same files. With --segmentation, also (for the same images, \
        which stay byte-identical) VOC<year>/SegmentationObject and SegmentationClass palette \
        PNGs, ImageSets/Segmentation/{train,val,trainval}.txt, and a COCO panoptic set: \
        <output>/panoptic/panoptic_{train,val}.json with segment PNGs in panoptic/segments \
        (the shapes as things, the background's tint as one of three stuff classes), and the \
        things as COCO instances with RLE masks: panoptic/instances_{train,val}.json.
        """)

    @Option(help: "Output folder.")
    var output: String = "demo"

    @Option(help: "Number of images.")
    var images: Int = 120

    @Option(help: "Seed of the generator (SplitMix64).")
    var seed: UInt64 = 0

    @Option(help: "Smallest image width (heights are 3/4 of the width range).")
    var minSide: Int = 256

    @Option(help: "Largest image width.")
    var maxSide: Int = 416

    @Option(help: "JPEG quality (1-100).")
    var quality: Int = 92

    @Option(help: "Devkit year.")
    var year: String = "2007"

    @Flag(help: "Also write VOC segmentation PNGs and lists and a COCO panoptic set for the same images.")
    var segmentation = false

    func validate() throws {
        guard images >= 1 else { throw ValidationError("--images must be at least 1") }
        guard minSide >= 64, maxSide >= minSide else { throw ValidationError("need 64 <= --min-side <= --max-side") }
        guard (1...100).contains(quality) else { throw ValidationError("--quality must be in 1...100") }
    }

    func run() throws {
        var options = DemoData.Options()
        options.images = images
        options.minSide = minSide
        options.maxSide = maxSide
        options.jpegQuality = quality
        options.year = year
        options.segmentation = segmentation
        var rng = SplitMix64(seed: seed)
        try runReporting {
            let s = try DemoData.generate(into: output, options: options, using: &rng)
            let objects = DemoData.classNames.map { "\($0) \(s.objects[$0, default: 0])" }.joined(separator: ", ")
            print("Wrote \(s.images) images to \(s.devkit) (\(objects); \(s.difficult) difficult)")
            print("Classes file: \(s.classesFile)")
            if let seg = s.segmentation {
                print("Segmentation: \(seg.trainImages) train and \(seg.valImages) val images in ImageSets/Segmentation; panoptic \(seg.panopticTrainJSON), \(seg.panopticValJSON) (PNGs in \(seg.panopticFolder)); instances \(seg.instancesTrainJSON), \(seg.instancesValJSON)")
            }
        }
    }
}
