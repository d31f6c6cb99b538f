import Datasets

/// Random access to the samples of a detection data set: decoded image plus target with
/// absolute `xyxy` boxes and class ids 0..C-1. Loading happens on the loader's worker threads.
public protocol DetectionDataset: Sendable {
    var count: Int { get }
    /// The image file of sample `index` (named in errors).
    func imagePath(at index: Int) -> String
    /// Reads and decodes sample `index`; errors name the file.
    func sample(at index: Int) throws -> Sample
}

/// A data set over the annotation-lines format (`2007_train.txt`: an image path and
/// `x1,y1,x2,y2,class` boxes per line), the reference scripts' input.
public struct AnnotationLinesDataset: DetectionDataset {
    public let lines: [AnnotationLine]

    public init(lines: [AnnotationLine]) {
        self.lines = lines
    }

    /// Reads the lines file.
    public init(path: String) throws {
        self.init(lines: try AnnotationLines.load(path))
    }

    public var count: Int { lines.count }

    public func imagePath(at index: Int) -> String { lines[index].imagePath }

    public func sample(at index: Int) throws -> Sample {
        let line = lines[index]
        let image = try ImageIO.load(line.imagePath)
        let target = Target(boxes: line.boxes.map { Box($0.box) }, labels: line.boxes.map(\.classId),
                            imageId: Int64(index), originalSize: (image.height, image.width))
        return Sample(image: image, target: target, path: line.imagePath)
    }
}

/// A data set over a VOCdevkit folder: the ids of an image set (or every annotation), their
/// XML read on demand. As voc_annotation.py: objects of classes not in `classes` are skipped,
/// and `difficult` ones too unless `includeDifficult`. With `masks`, each sample's target
/// carries the kept objects' instance masks from `SegmentationObject/<id>.png` (object index i
/// is the XML's i-th object; void pixels belong to no mask).
public struct VOCFolderDataset: DetectionDataset {
    public let devkit: VOCDevkit
    public let ids: [String]
    public let classes: ClassList
    public let includeDifficult: Bool
    /// Whether samples carry instance masks (read with `VOCDevkit.loadSegmentation`).
    public let masks: Bool
    let imageFiles: [String: String]

    /// `imageSet` names `ImageSets/Main/<name>.txt` (`ImageSets/Segmentation` with
    /// `imageSets: .segmentation`); nil takes every annotation.
    public init(devkit: VOCDevkit, imageSet: String?, classes: ClassList, includeDifficult: Bool = false,
                imageSets: VOCImageSets = .main, masks: Bool = false) throws {
        self.devkit = devkit
        self.ids = try imageSet.map { try devkit.readImageSet($0, from: imageSets) } ?? devkit.annotationIDs()
        self.classes = classes
        self.includeDifficult = includeDifficult
        self.masks = masks
        self.imageFiles = try devkit.imageFiles()
    }

    public var count: Int { ids.count }

    public func imagePath(at index: Int) -> String {
        let id = ids[index]
        return FileIO.join(devkit.imagesDirectory, imageFiles[id] ?? id + ".jpg")
    }

    public func sample(at index: Int) throws -> Sample {
        let ann = try VOCAnnotation.load(devkit.annotationPath(ids[index]))
        let path = imagePath(at: index)
        let image = try ImageIO.load(path)
        var boxes: [Box] = [], labels: [Int] = [], kept: [Int] = []
        for (i, obj) in ann.objects.enumerated() where includeDifficult || !obj.difficult {
            guard let id = classes.id(of: obj.name) else { continue }
            boxes.append(Box(obj.box))
            labels.append(id)
            kept.append(i)
        }
        let stack = masks ? try devkit.loadSegmentation(ids[index], annotation: ann, imageSize: (image.width, image.height))
            .objectMasks.selecting(kept) : nil
        let target = Target(boxes: boxes, labels: labels, masks: stack, imageId: Int64(index),
                            originalSize: (image.height, image.width))
        return Sample(image: image, target: target, path: path)
    }
}
