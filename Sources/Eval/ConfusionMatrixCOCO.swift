import Datasets

extension ConfusionMatrix {
    /// The matrix of COCO ground truth and results: classes are the categories in id order
    /// (`categoryIds`), images those of the ground truth. Crowd annotations are left out (there
    /// are none in ultralytics' data), so are results of an unknown category and, for bbox,
    /// results without a box. For segm the IoU is the masks' (pycocotools' mask IoU; masks as
    /// COCOeval makes them: polygons on the image's size, a result without a segmentation as
    /// its box); annotations or results without a mask are left out.
    public init(groundTruth gt: COCOInstances, results: [COCOResult], scoreThreshold: Double = 0.25,
                iouThreshold: Double = 0.45, iouType: COCOIoUType = .bbox) {
        let ids = Self.categoryIds(gt)
        var index: [Int64: Int] = [:]
        for (k, id) in ids.enumerated() { index[id] = k }
        self.init(classCount: ids.count, scoreThreshold: scoreThreshold, iouThreshold: iouThreshold)
        var size: [Int64: (height: Int, width: Int)] = [:]
        for im in gt.images where size[im.id] == nil { size[im.id] = (im.height, im.width) }
        var truths: [Int64: [Truth]] = [:]
        var truthMasks: [Int64: [RLE]] = [:]
        for a in gt.annotations where !a.isCrowd {
            guard let k = index[a.categoryId] else { continue }
            if iouType == .segm {
                let (h, w) = size[a.imageId] ?? (0, 0)
                guard let seg = a.segmentation, let m = RLE(segmentation: seg, height: h, width: w) else { continue }
                truths[a.imageId, default: []].append(Truth(box: m.boundingBox, classIndex: k))
                truthMasks[a.imageId, default: []].append(m)
            } else {
                guard let box = a.bbox else { continue }
                truths[a.imageId, default: []].append(Truth(box: box, classIndex: k))
            }
        }
        var detections: [Int64: [Detection]] = [:]
        var detectionMasks: [Int64: [RLE]] = [:]
        for r in results {
            guard let k = index[r.categoryId] else { continue }
            if iouType == .segm {
                // Only the masks of detections the matrix keeps are decoded.
                guard r.score > scoreThreshold, let (h, w) = size[r.imageId].map({ ($0.height, $0.width) }) else { continue }
                let mask = r.segmentation.flatMap { RLE(segmentation: $0, height: h, width: w) }
                    ?? r.bbox.map { RLE(box: $0, height: h, width: w) }
                guard let mask else { continue }
                detections[r.imageId, default: []].append(Detection(box: mask.boundingBox, score: r.score, classIndex: k))
                detectionMasks[r.imageId, default: []].append(mask)
            } else {
                guard let box = r.bbox else { continue }
                detections[r.imageId, default: []].append(Detection(box: box, score: r.score, classIndex: k))
            }
        }
        var seen = Set<Int64>()
        for im in gt.images where seen.insert(im.id).inserted {
            if iouType == .segm {
                let dm = detectionMasks[im.id] ?? [], tm = truthMasks[im.id] ?? []
                let dets = detections[im.id] ?? [], gts = truths[im.id] ?? []
                add(detections: dets, truths: gts) { d, t in
                    MaskIoU.mask(dm[d], tm[t], crowd: false, dBox: dets[d].box, gBox: gts[t].box)
                }
            } else {
                add(detections: detections[im.id] ?? [], truths: truths[im.id] ?? [])
            }
        }
    }

    /// The ground truth's category ids, sorted and de-duplicated (the matrix's class order).
    public static func categoryIds(_ gt: COCOInstances) -> [Int64] {
        Array(Set(gt.categories.map(\.id))).sorted()
    }

    /// `csv(names:normalised:)` with the categories' names.
    public func csv(categories: [COCOCategory], normalised: Bool = false) -> String {
        var name: [Int64: String] = [:]
        for c in categories { name[c.id] = c.name }
        let ids = Array(Set(categories.map(\.id))).sorted()
        return csv(names: ids.map { name[$0] ?? String($0) }, normalised: normalised)
    }
}
