import Datasets

// The COCO view of the Cartucho/mAP text folders (`ground-truth/`, `detection-results/`), as
// get_coco_map of the detr-pytorch family builds it (utils_map.py: preprocess_gt and
// preprocess_dr), kept in memory instead of written to instances_gt.json / instances_dr.json.
//
// Matched from the reference:
// - one category per class name, id = class index + 1, name and supercategory = the name;
// - a ground-truth box `left top right bottom` becomes bbox `[left, top, right - left,
//   bottom - top]` (no VOC +1 here), a `difficult` object becomes a crowd (`iscrowd = 1`),
//   so that a detection on it is neither a true nor a false positive;
// - a detection becomes `{image_id, category_id, bbox, score}` in the same way;
// - objects and detections of a class that is not among the class names are left out.
//
// Deliberate differences (documented in `get-map --help`):
// - area = w * h; the reference writes w * h - 10, which moves boxes near an area-range
//   boundary into the smaller range;
// - image ids are 1, 2, ... in sorted file order (the reference uses the file names as string
//   ids) and annotation ids start at 1: the reference's first annotation has id 0, which
//   pycocotools' matching takes for "unmatched", so that object could be matched twice;
// - images are 1 x 1 as in the reference (the text files carry no size; bbox evaluation
//   does not use it);
// - left-out objects and detections are counted (the reference drops them silently).

/// Ground truth and detections of the text folders in COCO form, with what was left out.
public struct VOCCOCOData: Sendable {
    /// Images (id `i + 1` for the i-th id of the input, `file_name` `<id>.jpg`), categories
    /// (id `c + 1` for class c) and annotations (ids from 1, in image then line order).
    public var groundTruth: COCOInstances
    /// Detections in image then line order.
    public var results: [COCOResult]
    /// Ground-truth objects of classes not among the class names, by class name.
    public var skippedGroundTruth: [String: Int]
    /// Detections of classes not among the class names, by class name.
    public var skippedDetections: [String: Int]

    public init(groundTruth: COCOInstances, results: [COCOResult], skippedGroundTruth: [String: Int] = [:],
                skippedDetections: [String: Int] = [:]) {
        self.groundTruth = groundTruth
        self.results = results
        self.skippedGroundTruth = skippedGroundTruth
        self.skippedDetections = skippedDetections
    }
}

/// Converts the text folders of the VOC metric to COCO ground truth and results.
public enum VOCToCOCO {
    /// The COCO category id of class index `c`.
    public static func categoryId(ofClass c: Int) -> Int64 { Int64(c + 1) }

    /// The COCO image id of the i-th image (in the input's sorted order).
    public static func imageId(ofIndex i: Int) -> Int64 { Int64(i + 1) }

    /// Converts `input` for the classes `classNames` (category ids in this order). Never throws
    /// on geometry: a box with a negative width or height keeps it (its area is then negative,
    /// outside every area range, as pycocotools treats it).
    public static func convert(_ input: VOCMapInput, classNames: [String]) -> VOCCOCOData {
        var classIndex: [String: Int] = [:]
        for (c, name) in classNames.enumerated() where classIndex[name] == nil { classIndex[name] = c }
        let categories = classNames.enumerated().map { c, name in
            COCOCategory(id: categoryId(ofClass: c), name: name, supercategory: name)
        }
        var images: [COCOImage] = []
        var annotations: [COCOAnnotation] = []
        var results: [COCOResult] = []
        var skippedGT: [String: Int] = [:]
        var skippedDT: [String: Int] = [:]
        images.reserveCapacity(input.imageIDs.count)
        for (i, id) in input.imageIDs.enumerated() {
            let imageId = imageId(ofIndex: i)
            images.append(COCOImage(id: imageId, width: 1, height: 1, fileName: id + ".jpg"))
            for object in input.groundTruth[i] {
                guard let c = classIndex[object.className] else {
                    skippedGT[object.className, default: 0] += 1
                    continue
                }
                let box = COCOBox(x: object.left, y: object.top, width: object.right - object.left,
                                  height: object.bottom - object.top)
                annotations.append(COCOAnnotation(id: Int64(annotations.count + 1), imageId: imageId,
                                                  categoryId: categoryId(ofClass: c), bbox: box,
                                                  area: box.width * box.height, isCrowd: object.difficult))
            }
            for det in input.detections[i] {
                guard let c = classIndex[det.className] else {
                    skippedDT[det.className, default: 0] += 1
                    continue
                }
                let box = COCOBox(x: det.left, y: det.top, width: det.right - det.left, height: det.bottom - det.top)
                results.append(COCOResult(imageId: imageId, categoryId: categoryId(ofClass: c), bbox: box, score: det.score))
            }
        }
        let gt = COCOInstances(images: images, categories: categories, annotations: annotations)
        return VOCCOCOData(groundTruth: gt, results: results, skippedGroundTruth: skippedGT, skippedDetections: skippedDT)
    }

    /// Every class name of the folders, ground truth (difficult objects too) and detections,
    /// sorted by their bytes as the VOC mAP sorts its classes: the classes of the COCO view of
    /// `get-map voc`, where no class is left out.
    public static func classNames(_ input: VOCMapInput) -> [String] {
        var names = Set<String>()
        for objects in input.groundTruth { for o in objects { names.insert(o.className) } }
        for dets in input.detections { for d in dets { names.insert(d.className) } }
        return names.sorted(by: utf8Less)
    }

    /// Reads the two folders (as `VOCMapInput.load`, whose errors name the file) and converts.
    public static func load(groundTruthFolder: String, detectionFolder: String, classNames: [String]) throws -> VOCCOCOData {
        let input = try VOCMapInput.load(groundTruthFolder: groundTruthFolder, detectionFolder: detectionFolder)
        return convert(input, classNames: classNames)
    }

    /// COCO bbox evaluation (pycocotools' defaults) of converted data.
    public static func evaluate(_ data: VOCCOCOData, params: COCOEvalParams = COCOEvalParams(iouType: .bbox)) throws -> COCOEvalResult {
        try COCOEvaluator(groundTruth: data.groundTruth, results: data.results, params: params).run()
    }
}
