/// Which image-set lists of a devkit: `ImageSets/Main` (detection) or `ImageSets/Segmentation`
/// (the images that have `SegmentationObject` and `SegmentationClass` PNGs).
public enum VOCImageSets: String, Sendable, CaseIterable {
    case main
    case segmentation

    /// The folder name under `ImageSets`.
    public var folderName: String { self == .main ? "Main" : "Segmentation" }
}

/// The segmentation of one VOC image, read from `SegmentationObject/<id>.png` and
/// `SegmentationClass/<id>.png` (palette PNGs whose indices are object and class numbers, 0 the
/// background and 255 void, as the devkit defines them).
public struct VOCSegmentation: Equatable, Sendable {
    /// The void index of both PNGs: pixels not to be scored (object borders, unclear regions).
    public static let void: UInt8 = 255

    public let width: Int
    public let height: Int
    /// One mask per `<object>` of the XML, in document order: object index `i + 1` of
    /// `SegmentationObject` is the `i`-th object (an object without pixels has an empty mask).
    public var objectMasks: MaskStack
    /// The semantic label map (`[height][width]`): 0 background, `k` the devkit's class `k`
    /// (line `k - 1` of its class list), 255 void.
    public var classMap: [UInt8]
    /// Where either PNG is void (1) or not (0), `[height][width]`.
    public var voidMask: [UInt8]

    public init(width: Int, height: Int, objectMasks: MaskStack, classMap: [UInt8], voidMask: [UInt8]) {
        self.width = width
        self.height = height
        self.objectMasks = objectMasks
        self.classMap = classMap
        self.voidMask = voidMask
    }

    /// Pairs an object-index map and a class map (both `width x height`, already read) with the
    /// annotation's objects. `objectPath` and `classPath` name the files in errors: an object
    /// index beyond the XML's objects, or maps whose size differs from the image's.
    public static func make(objects: IndexedImage, classes: IndexedImage, objectCount: Int,
                            imageSize: (width: Int, height: Int), objectPath: String,
                            classPath: String) throws -> VOCSegmentation {
        for (map, path) in [(objects, objectPath), (classes, classPath)] {
            guard map.width == imageSize.width, map.height == imageSize.height else {
                throw DatasetError.invalidSegmentation(
                    path: path, reason: "mask of \(map.width)x\(map.height) pixels for an image of \(imageSize.width)x\(imageSize.height)")
            }
        }
        let plane = objects.width * objects.height
        var masks = MaskStack(count: objectCount, height: objects.height, width: objects.width)
        var void = [UInt8](repeating: 0, count: plane)
        for p in 0..<plane {
            let o = objects.indices[p]
            if o == Self.void || classes.indices[p] == Self.void { void[p] = 1 }
            guard o != 0, o != Self.void else { continue }
            guard Int(o) <= objectCount else {
                throw DatasetError.invalidSegmentation(
                    path: objectPath,
                    reason: "object index \(o) at pixel (\(p % objects.width), \(p / objects.width)) but the annotation has \(objectCount) object(s) (index i is the i-th <object>)")
            }
            masks.values[(Int(o) - 1) * plane + p] = 1
        }
        return VOCSegmentation(width: objects.width, height: objects.height, objectMasks: masks,
                               classMap: classes.indices, voidMask: void)
    }
}

extension VOCDevkit {
    public var segmentationObjectDirectory: String { FileIO.join(yearDirectory, "SegmentationObject") }
    public var segmentationClassDirectory: String { FileIO.join(yearDirectory, "SegmentationClass") }

    public func segmentationObjectPath(_ id: String) -> String { FileIO.join(segmentationObjectDirectory, id + ".png") }
    public func segmentationClassPath(_ id: String) -> String { FileIO.join(segmentationClassDirectory, id + ".png") }

    /// `ImageSets/Main` or `ImageSets/Segmentation`.
    public func imageSetsDirectory(_ sets: VOCImageSets) -> String {
        FileIO.join(yearDirectory, "ImageSets", sets.folderName)
    }

    /// Reads `ImageSets/<Main|Segmentation>/<name>.txt` (whitespace-separated ids).
    public func readImageSet(_ name: String, from sets: VOCImageSets) throws -> [String] {
        if sets == .main { return try readImageSet(name) }
        let path = FileIO.join(imageSetsDirectory(sets), name + ".txt")
        guard FileIO.isFile(path) else {
            throw DatasetError.invalidDevkit(path: path, reason: "segmentation image set not found (a VOC devkit ships ImageSets/Segmentation; demo-data --segmentation writes it)")
        }
        return try FileIO.readText(path).split(whereSeparator: { $0.isWhitespace }).map(String.init)
    }

    /// Writes `ImageSets/Segmentation/{trainval,train,val}.txt` (each in the given order).
    public func writeSegmentationImageSets(train: [String], val: [String], trainval: [String]) throws {
        let dir = imageSetsDirectory(.segmentation)
        try FileIO.makeDirectories(dir)
        for (name, ids) in [("trainval", trainval), ("train", train), ("val", val)] {
            try FileIO.writeAtomically(FileIO.join(dir, name + ".txt"), text: ids.map { $0 + "\n" }.joined())
        }
    }

    /// The segmentation of image `id`: its two PNGs read as palette indices and paired with
    /// `annotation`'s objects. The masks must have the image's size: `imageSize` when given (the
    /// decoded image's), else the annotation's `<size>`; with neither the two PNGs need only
    /// agree with each other.
    public func loadSegmentation(_ id: String, annotation: VOCAnnotation,
                                 imageSize: (width: Int, height: Int)? = nil) throws -> VOCSegmentation {
        let objectPath = segmentationObjectPath(id), classPath = segmentationClassPath(id)
        let objects = try ImageIO.loadIndexed(objectPath)
        let classes = try ImageIO.loadIndexed(classPath)
        let size = imageSize ?? annotation.size.map { ($0.width, $0.height) } ?? (objects.width, objects.height)
        return try VOCSegmentation.make(objects: objects, classes: classes, objectCount: annotation.objects.count,
                                        imageSize: size, objectPath: objectPath, classPath: classPath)
    }
}
