import ArgumentParser
import Datasets

/// `--devkit`, `--year` and `--split`: one image set of a VOCdevkit, checked before any slow
/// work, with the error naming the folder or file that is missing.
public struct DevkitSplitOptions: ParsableArguments {
    @Option(help: "The VOCdevkit folder.")
    public var devkit: String = "VOCdevkit"

    @Option(help: "Devkit year: reads VOC<year>/.")
    public var year: String = "2007"

    @Option(help: "Image set: VOC<year>/ImageSets/Main/<split>.txt (ImageSets/Segmentation with --image-sets segmentation).")
    public var split: String = "test"

    @Option(help: "Image-set lists: main (ImageSets/Main) or segmentation (ImageSets/Segmentation).")
    public var imageSets: VOCImageSets = .main

    public init() {}

    /// The devkit, once its `VOC<year>` folder is found.
    public func open() throws -> VOCDevkit {
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
    public func imageIDs(_ kit: VOCDevkit) throws -> [String] {
        let path = FileIO.join(kit.imageSetsDirectory(imageSets), split + ".txt")
        guard FileIO.isFile(path) else {
            let writer = imageSets == .main ? "voc-annotation --mode 1 writes it" : "a VOC devkit ships it; demo-data --segmentation writes it"
            throw ToolError("\(path): no such image set (\(writer); see --split)")
        }
        let ids = try kit.readImageSet(split, from: imageSets)
        guard !ids.isEmpty else { throw ToolError("\(path): the image set lists no images") }
        return ids
    }

    /// The image file of every id (`<id>.jpg` first, another image extension otherwise).
    public func imagePaths(_ kit: VOCDevkit, ids: [String]) throws -> [String: String] {
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
}

extension VOCImageSets: ExpressibleByArgument {}
