import Datasets

/// A data set over a COCO instances file and its image folder, as DETR's `CocoDetection` with
/// `ConvertCocoPolysToMask`: crowd annotations are left out, `xywh` becomes `xyxy` clipped to
/// the image, category ids are mapped to 0..C-1 in increasing id order. With `masks`, each
/// object's segmentation (polygons, uncompressed or compressed RLE) is rasterised with
/// pycocotools' rules (Eval's mask API) into the target's instance masks.
public struct COCODataset: DetectionDataset {
    public let imagesDirectory: String
    public let images: [COCOImage]
    /// `categoryIds[label]` is the COCO category id of a label.
    public let categoryIds: [Int64]
    /// Whether samples carry instance masks.
    public let masks: Bool
    let objects: [[COCOAnnotation]]

    public init(instances: COCOInstances, imagesDirectory: String, masks: Bool = false) {
        self.masks = masks
        self.imagesDirectory = imagesDirectory
        self.images = instances.images
        let ids = instances.categories.map(\.id).sorted()
        self.categoryIds = ids
        var byImage: [Int64: [COCOAnnotation]] = [:]
        for a in instances.annotations where !a.isCrowd { byImage[a.imageId, default: []].append(a) }
        self.objects = instances.images.map { byImage[$0.id] ?? [] }
    }

    /// Reads an instances file.
    public init(annotationFile: String, imagesDirectory: String, masks: Bool = false) throws {
        self.init(instances: try COCOInstances.load(annotationFile), imagesDirectory: imagesDirectory, masks: masks)
    }

    public var count: Int { images.count }

    public func imagePath(at index: Int) -> String { FileIO.join(imagesDirectory, images[index].fileName) }

    public func sample(at index: Int) throws -> Sample {
        let path = imagePath(at: index)
        let image = try ImageIO.load(path)
        let w = Float(image.width), h = Float(image.height)
        var boxes: [Box] = [], labels: [Int] = [], areas: [Float] = []
        var maskValues: [UInt8] = []
        for a in objects[index] {
            guard let bb = a.bbox, let label = categoryIds.firstIndex(of: a.categoryId) else { continue }
            let (x1, y1, x2, y2) = bb.xyxy
            let box = Box(min(max(Float(x1), 0), w), min(max(Float(y1), 0), h), min(max(Float(x2), 0), w), min(max(Float(y2), 0), h))
            if masks {
                guard let seg = a.segmentation, let rle = RLE(segmentation: seg, height: image.height, width: image.width) else {
                    throw DatasetError.invalidAnnotation(path: path, element: "annotation \(a.id) segmentation",
                                                         reason: "missing or undecodable segmentation (masks were requested)")
                }
                maskValues += rle.decodeRowMajor()
            }
            boxes.append(box)
            labels.append(label)
            areas.append(a.area.map(Float.init) ?? box.area)
        }
        let stack = masks ? MaskStack(count: boxes.count, height: image.height, width: image.width, values: maskValues) : nil
        let target = Target(boxes: boxes, labels: labels, areas: areas, masks: stack, imageId: images[index].id,
                            originalSize: (image.height, image.width))
        return Sample(image: image, target: target, path: path)
    }
}
