import Datasets

/// A training data set over COCO panoptic ground truth: the JSON (`panoptic_train2017.json`),
/// its folder of segment-id PNGs (id = R + 256 G + 256^2 B, 0 = void) and the images. Each
/// segment is an object of the target: its mask (the pixels holding its id), its category mapped
/// to a contiguous label in the order of the JSON's categories (things and stuff alike, as
/// Mask2Former's registration does), its box (the JSON's `bbox`, `xywh` to `xyxy` clipped to the
/// image; the mask's extent when absent), its area (the JSON's, else the pixel count) and its
/// crowd flag. Crowd segments are left out of the targets, as Mask2Former's COCO panoptic mapper
/// does, unless `includeCrowd` (then kept with `isCrowd` set, for a criterion that ignores them).
///
/// An annotation's image is the PNG's name with `.jpg` (detectron2's rule), else `.jpeg` or
/// `.png`, in `imagesDirectory`.
public struct COCOPanopticDataset: DetectionDataset {
    public let annotationPath: String
    public let imagesDirectory: String
    public let segmentsDirectory: String
    public let annotations: [PanopticAnnotation]
    /// The JSON's categories in file order: `categories[label]`.
    public let categories: [PanopticCategory]
    public let includeCrowd: Bool
    let labelOf: [Int: Int]

    /// `segmentsDirectory` defaults to the JSON's path without `.json` (COCO's layout:
    /// `panoptic_train2017.json` beside `panoptic_train2017/`) when that folder exists, else
    /// `segments` beside the JSON (the shapes set's layout).
    public init(panoptic: COCOPanoptic, annotationPath: String, imagesDirectory: String, segmentsDirectory: String,
                includeCrowd: Bool = false) throws {
        guard !panoptic.categories.isEmpty else {
            throw PanopticError.invalidJSON(path: annotationPath, reason: "no categories (a training set needs them to number the classes)")
        }
        var labelOf: [Int: Int] = [:]
        for (i, c) in panoptic.categories.enumerated() {
            guard labelOf[c.id] == nil else {
                throw PanopticError.invalidJSON(path: annotationPath, reason: "category id \(c.id) is listed twice")
            }
            labelOf[c.id] = i
        }
        for a in panoptic.annotations {
            for s in a.segments where labelOf[s.categoryID] == nil {
                throw PanopticError.invalidJSON(path: annotationPath,
                    reason: "segment \(s.id) of image \(a.imageID) has category \(s.categoryID), which is not in the categories")
            }
        }
        self.annotationPath = annotationPath
        self.imagesDirectory = imagesDirectory
        self.segmentsDirectory = segmentsDirectory
        self.annotations = panoptic.annotations
        self.categories = panoptic.categories
        self.includeCrowd = includeCrowd
        self.labelOf = labelOf
    }

    /// Reads a panoptic JSON file.
    public init(annotationFile: String, imagesDirectory: String, segmentsDirectory: String? = nil,
                includeCrowd: Bool = false) throws {
        let folder: String
        if let segmentsDirectory {
            folder = segmentsDirectory
        } else {
            let stem = annotationFile.hasSuffix(".json") ? String(annotationFile.dropLast(5)) : annotationFile
            let parent = annotationFile.lastIndex(of: "/").map { String(annotationFile[..<$0]) } ?? "."
            folder = FileIO.isDirectory(stem) ? stem : FileIO.join(parent, "segments")
        }
        try self.init(panoptic: try COCOPanoptic.load(annotationFile), annotationPath: annotationFile,
                      imagesDirectory: imagesDirectory, segmentsDirectory: folder, includeCrowd: includeCrowd)
    }

    public var count: Int { annotations.count }

    /// `categories[label].isThing == 1`.
    public var isThing: [Bool] { categories.map { $0.isThing == 1 } }

    static let imageExtensions = ["jpg", "jpeg", "png"]

    public func imagePath(at index: Int) -> String {
        let name = annotations[index].fileName
        let stem = name.lastIndex(of: ".").map { String(name[..<$0]) } ?? name
        let paths = Self.imageExtensions.map { FileIO.join(imagesDirectory, stem + "." + $0) }
        return paths.first(where: FileIO.exists) ?? paths[0]
    }

    /// The segment-id PNG of sample `index`.
    public func segmentsPath(at index: Int) -> String { FileIO.join(segmentsDirectory, annotations[index].fileName) }

    public func sample(at index: Int) throws -> Sample {
        let ann = annotations[index]
        let path = imagePath(at: index)
        let image = try ImageIO.load(path)
        let pngPath = segmentsPath(at: index)
        let map = try PanopticSegmentMap.load(pngPath)
        guard map.width == image.width, map.height == image.height else {
            throw PanopticError.inconsistentSegments(path: pngPath,
                reason: "segment PNG is \(map.width)x\(map.height) but its image \(path) is \(image.width)x\(image.height)")
        }
        let segments = ann.segments.filter { includeCrowd || $0.isCrowd == 0 }
        let w = image.width, h = image.height, plane = w * h
        var slot: [UInt32: Int] = [:]
        for (k, s) in segments.enumerated() where s.id > 0 && s.id <= Int(UInt32.max) {
            guard slot.updateValue(k, forKey: UInt32(s.id)) == nil else {
                throw PanopticError.invalidJSON(path: annotationPath, reason: "segment id \(s.id) is listed twice for \(ann.fileName)")
            }
        }
        var values = [UInt8](repeating: 0, count: segments.count * plane)
        // Per segment: pixel count and extent (for a missing area or bbox).
        var pixels = [Int](repeating: 0, count: segments.count)
        var x0 = [Int](repeating: Int.max, count: segments.count), y0 = x0
        var x1 = [Int](repeating: -1, count: segments.count), y1 = x1
        var lastID: UInt32 = 0, lastSlot: Int? = nil
        map.ids.withUnsafeBufferPointer { ids in
            values.withUnsafeMutableBufferPointer { out in
                for y in 0..<h {
                    for x in 0..<w {
                        let id = ids[y * w + x]
                        if id == 0 { continue }
                        if id != lastID {
                            lastID = id
                            lastSlot = slot[id]
                        }
                        guard let k = lastSlot else { continue }
                        out[k * plane + y * w + x] = 1
                        pixels[k] += 1
                        x0[k] = min(x0[k], x); x1[k] = max(x1[k], x)
                        y0[k] = min(y0[k], y); y1[k] = max(y1[k], y)
                    }
                }
            }
        }
        let fw = Float(w), fh = Float(h)
        var boxes: [Box] = [], labels: [Int] = [], areas: [Float] = [], crowd: [Bool] = []
        for (k, s) in segments.enumerated() {
            if let bb = s.bbox {
                let (bx1, by1, bx2, by2) = bb.xyxy
                boxes.append(Box(min(max(Float(bx1), 0), fw), min(max(Float(by1), 0), fh),
                                 min(max(Float(bx2), 0), fw), min(max(Float(by2), 0), fh)))
            } else if pixels[k] > 0 {
                boxes.append(Box(Float(x0[k]), Float(y0[k]), Float(x1[k] + 1), Float(y1[k] + 1)))
            } else {
                boxes.append(Box(0, 0, 0, 0))
            }
            labels.append(labelOf[s.categoryID]!)
            areas.append(s.area.map(Float.init) ?? Float(pixels[k]))
            crowd.append(s.isCrowd != 0)
        }
        let imageId: Int64
        switch ann.imageID {
        case let .int(i): imageId = Int64(i)
        case .string: imageId = Int64(index)
        }
        let target = Target(boxes: boxes, labels: labels, areas: areas, isCrowd: crowd,
                            masks: MaskStack(count: segments.count, height: h, width: w, values: values),
                            imageId: imageId, originalSize: (h, w))
        return Sample(image: image, target: target, path: path)
    }
}
