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
        try self.init(devkit: devkit, ids: try imageSet.map { try devkit.readImageSet($0, from: imageSets) } ?? devkit.annotationIDs(),
                      classes: classes, includeDifficult: includeDifficult, masks: masks)
    }

    /// The samples of `ids` (e.g. the images of a lines file inside the devkit).
    public init(devkit: VOCDevkit, ids: [String], classes: ClassList, includeDifficult: Bool = false, masks: Bool = false) throws {
        self.devkit = devkit
        self.ids = ids
        self.classes = classes
        self.includeDifficult = includeDifficult
        self.masks = masks
        self.imageFiles = try devkit.imageFiles()
    }

    public var count: Int { ids.count }

    public func imagePath(at index: Int) -> String { devkit.imagePath(ids[index], files: imageFiles) }

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

/// Semantic segmentation samples of a VOCdevkit: per image one mask per class present in
/// `SegmentationClass/<id>.png` (label = the PNG's class index: 0 background, k the devkit's
/// class k), void pixels in no mask, boxes the masks' extents (what Mask2Former's semantic
/// training takes).
public struct VOCSemanticDataset: DetectionDataset {
    public let devkit: VOCDevkit
    public let ids: [String]
    /// Classes with the background: indices 0 ..< classCount are valid, others an error.
    public let classCount: Int
    let imageFiles: [String: String]

    public init(devkit: VOCDevkit, ids: [String], classCount: Int) throws {
        self.devkit = devkit
        self.ids = ids
        self.classCount = classCount
        self.imageFiles = try devkit.imageFiles()
    }

    public var count: Int { ids.count }

    public func imagePath(at index: Int) -> String { devkit.imagePath(ids[index], files: imageFiles) }

    public func sample(at index: Int) throws -> Sample {
        let id = ids[index]
        let path = imagePath(at: index)
        let image = try ImageIO.load(path)
        let classPath = devkit.segmentationClassPath(id)
        let map = try ImageIO.loadIndexed(classPath)
        guard map.width == image.width, map.height == image.height else {
            throw DatasetError.invalidSegmentation(path: classPath,
                reason: "mask of \(map.width)x\(map.height) pixels for an image of \(image.width)x\(image.height)")
        }
        let w = image.width, plane = w * image.height
        var slot = [Int](repeating: -1, count: 256)
        var labels: [Int] = []
        for p in 0..<plane {
            let c = Int(map.indices[p])
            guard c != Int(VOCSegmentation.void), slot[c] < 0 else { continue }
            guard c < classCount else {
                throw DatasetError.invalidSegmentation(path: classPath,
                    reason: "class index \(c) at pixel (\(p % w), \(p / w)) but there are \(classCount) classes with the background")
            }
            slot[c] = 0
            labels.append(c)
        }
        labels.sort()
        for (k, c) in labels.enumerated() { slot[c] = k }
        var values = [UInt8](repeating: 0, count: labels.count * plane)
        var x0 = [Int](repeating: Int.max, count: labels.count), y0 = x0
        var x1 = [Int](repeating: -1, count: labels.count), y1 = x1
        for p in 0..<plane {
            let c = Int(map.indices[p])
            guard c != Int(VOCSegmentation.void) else { continue }
            let k = slot[c], x = p % w, y = p / w
            values[k * plane + p] = 1
            x0[k] = min(x0[k], x); x1[k] = max(x1[k], x)
            y0[k] = min(y0[k], y); y1[k] = max(y1[k], y)
        }
        let boxes = labels.indices.map { Box(Float(x0[$0]), Float(y0[$0]), Float(x1[$0] + 1), Float(y1[$0] + 1)) }
        let target = Target(boxes: boxes, labels: labels, masks: MaskStack(count: labels.count, height: image.height, width: w, values: values),
                            imageId: Int64(index), originalSize: (image.height, image.width))
        return Sample(image: image, target: target, path: path)
    }
}

extension VOCDevkit {
    /// The image of `id` in JPEGImages: its file from `files` (`imageFiles()`), else `<id>.jpg`.
    func imagePath(_ id: String, files: [String: String]) -> String {
        FileIO.join(imagesDirectory, files[id] ?? id + ".jpg")
    }

    /// The devkit and image id of an image path `<root>/VOC<year>/JPEGImages/<id>.<ext>` (what
    /// voc-annotation's lines name); nil for a path outside a devkit's layout.
    public static func locating(imagePath: String) -> (devkit: VOCDevkit, id: String)? {
        let parts = imagePath.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 3, parts[parts.count - 2] == "JPEGImages" else { return nil }
        let yearFolder = parts[parts.count - 3]
        guard yearFolder.hasPrefix("VOC"), yearFolder.count > 3 else { return nil }
        let file = parts[parts.count - 1]
        let id = file.lastIndex(of: ".").map { String(file[..<$0]) } ?? file
        let root = parts.count > 3 ? parts[..<(parts.count - 3)].joined(separator: "/") : "."
        return (VOCDevkit(root: root.isEmpty ? "/" : root, year: String(yearFolder.dropFirst(3))), id)
    }
}
