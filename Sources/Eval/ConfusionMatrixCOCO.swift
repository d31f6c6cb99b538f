import Datasets

extension ConfusionMatrix {
    /// The matrix of COCO ground truth and box results: classes are the categories in id order
    /// (`categoryIds`), images those of the ground truth. Crowd annotations are left out (there
    /// are none in ultralytics' data), so are results without a box or of an unknown category.
    public init(groundTruth gt: COCOInstances, results: [COCOResult], scoreThreshold: Double = 0.25,
                iouThreshold: Double = 0.45) {
        let ids = Self.categoryIds(gt)
        var index: [Int64: Int] = [:]
        for (k, id) in ids.enumerated() { index[id] = k }
        self.init(classCount: ids.count, scoreThreshold: scoreThreshold, iouThreshold: iouThreshold)
        var truths: [Int64: [Truth]] = [:]
        for a in gt.annotations where !a.isCrowd {
            guard let box = a.bbox, let k = index[a.categoryId] else { continue }
            truths[a.imageId, default: []].append(Truth(box: box, classIndex: k))
        }
        var detections: [Int64: [Detection]] = [:]
        for r in results {
            guard let box = r.bbox, let k = index[r.categoryId] else { continue }
            detections[r.imageId, default: []].append(Detection(box: box, score: r.score, classIndex: k))
        }
        var seen = Set<Int64>()
        for im in gt.images where seen.insert(im.id).inserted {
            add(detections: detections[im.id] ?? [], truths: truths[im.id] ?? [])
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
