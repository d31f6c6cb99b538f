import Augment
import Datasets
import Eval
import Model

// The validation metrics of mask models, from a data set's samples (ground truth at the
// original image size, `dataset.sample(at:)`), as `cocoAP` does for boxes. In a data-parallel
// run (`world`) rank r measures the images i with i % processes == r and the processes gather
// what the evaluation needs, so that every process computes the numbers one process would:
//
// - mask AP: every image's ground-truth masks and detections (masks as run lengths), evaluated
//   by COCOEvaluator (segm) after the gather, in image order;
// - PQ: every image's per-category counts (PanopticQuality.evaluateImage), summed in image
//   order as the file-based evaluation does;
// - mIoU: each process's pixel confusion matrix, summed (integer counts).
//
// A process that fails (an unreadable sample, a mask of the wrong size) still takes part in
// the gather, so that no process waits for it: every process then throws, the failed one its
// own error, the others `MaskMetricsError.otherProcess` with its message.

/// Why a mask metric cannot be computed.
public enum MaskMetricsError: Error, CustomStringConvertible {
    /// The model gives no masks (a box model).
    case noMasks(metric: String, family: String)
    /// A mask model that does not serve the metric's task (DETR's mask head has no semantic task).
    case taskNotServed(metric: String, family: String, serves: [SegmentationTask])
    /// A sample that does not fit the metric (no masks, masks of another size, a label out of
    /// range); `path` is its image.
    case badSample(path: String, reason: String)
    case invalidArgument(String)
    /// Another process of a data-parallel run failed with `message`.
    case otherProcess(rank: Int, message: String)

    public var description: String {
        switch self {
        case let .noMasks(metric, family):
            return "\(metric) needs a model that predicts masks; this \(family) model predicts boxes only"
        case let .taskNotServed(metric, family, serves):
            return "\(metric) needs a model of that task; this \(family) model serves " + serves.map(\.rawValue).joined(separator: " and ")
        case let .badSample(path, reason): return "\(path): \(reason)"
        case let .invalidArgument(message): return message
        case let .otherProcess(rank, message): return "process \(rank) failed: \(message)"
        }
    }
}

extension Validation {
    /// That the bundle serves `task` (a mask classifier every task; DETR's mask head instances,
    /// and panoptic segments with softmax scoring).
    static func requireTask(_ task: SegmentationTask, _ metric: String, _ bundle: ModelBundle) throws {
        let serves = bundle.segmentationTasks
        if serves.isEmpty { throw MaskMetricsError.noMasks(metric: metric, family: bundle.config.family) }
        if !serves.contains(task) { throw MaskMetricsError.taskNotServed(metric: metric, family: bundle.config.family, serves: serves) }
    }

    /// COCO segm AP50 and AP (0.5:0.95) of a model's instance masks (a mask classifier's
    /// instances, or DETR's with its mask head; detections above 0.001) against the samples'
    /// instance masks (`Target.masks` at the image size: categories are the labels, `iscrowd`
    /// the crowd flags, areas the masks' pixel counts). `progress(done, total)` after each image.
    /// 0 when the data set has no object.
    public static func maskAP(bundle: ModelBundle, dataset: any DetectionDataset, world: ProcessWorld? = nil,
                              progress: (Int, Int) -> Void = { _, _ in }) throws -> (ap50: Double, map: Double) {
        try requireTask(.instance, "mask AP", bundle)
        let parts = try gathered(world) {
            try maskAPRecords(bundle: bundle, dataset: dataset, shard: Shard(world), progress: progress)
        }
        return try maskAP(records: parts, bundle: bundle, dataset: dataset)
    }

    /// PQ, SQ and RQ (fractions, the "All" row: the mean over the categories with any TP, FP or
    /// FN) of a mask classifier's panoptic segmentation against ground-truth segments from the
    /// samples: every mask of a sample is a segment of category `label` with its crowd flag (a
    /// pixel of several masks belongs to the last), pixels of no mask are void; a segment's area
    /// is its pixel count. `isThing[label]` (one per class of the model) says which classes are
    /// things (for the evaluation; the model's panoptic inference keeps its own). The matching is panopticapi's (`PanopticQuality.evaluateImage`); the counts are
    /// summed in image order. `progress(done, total)` after each image.
    public static func panopticQuality(bundle: ModelBundle, dataset: any DetectionDataset, isThing: [Bool], world: ProcessWorld? = nil,
                                       progress: (Int, Int) -> Void = { _, _ in }) throws -> (pq: Double, sq: Double, rq: Double) {
        try requireTask(.panoptic, "panoptic quality", bundle)
        guard isThing.count == bundle.classNames.count else {
            throw MaskMetricsError.invalidArgument("panoptic quality: \(isThing.count) thing flags for a model of \(bundle.classNames.count) classes")
        }
        let parts = try gathered(world) {
            try panopticRecords(bundle: bundle, dataset: dataset, shard: Shard(world), progress: progress)
        }
        return panopticQuality(records: parts, bundle: bundle, isThing: isThing)
    }

    /// mIoU (a fraction) of a mask classifier's semantic labels (`Detector.semanticLabels`)
    /// against the samples' masks: a pixel's ground truth is the label of the mask covering it
    /// (the last one where several do), void (left out) where none does. `classCount` classes;
    /// the mean is mmsegmentation's (`SemanticSegmentationResult`: a class absent from both
    /// ground truth and predictions is left out). 0 when no pixel is covered by a mask.
    /// `progress(done, total)` after each image.
    public static func meanIoU(bundle: ModelBundle, dataset: any DetectionDataset, classCount: Int, world: ProcessWorld? = nil,
                               progress: (Int, Int) -> Void = { _, _ in }) throws -> Double {
        try requireTask(.semantic, "mIoU", bundle)
        guard (1...65536).contains(classCount) else {
            throw MaskMetricsError.invalidArgument("mIoU: \(classCount) classes (1 to 65536 can be measured)")
        }
        let parts = try gathered(world) {
            try confusionRecords(bundle: bundle, dataset: dataset, classCount: classCount, shard: Shard(world), progress: progress)
        }
        return try meanIoU(records: parts, classCount: classCount)
    }
}

extension Validation {
    /// The images one process of a data-parallel run measures: i % processes == rank.
    struct Shard {
        var rank: Int
        var processes: Int

        init(rank: Int, processes: Int) {
            self.rank = rank
            self.processes = processes
        }

        init(_ world: ProcessWorld?) {
            self.init(rank: world?.rank ?? 0, processes: world?.size ?? 1)
        }

        func indices(_ count: Int) -> StrideTo<Int> { stride(from: rank, to: count, by: processes) }
    }
}

// Each metric in two steps: a process's records of its images (packed as Doubles, to be
// gathered), then the evaluation of every process's records.
extension Validation {
    /// Per image: index, width, height, object count, detection count; per object: label,
    /// crowd flag, its mask's run lengths; per detection: label, score, x0, y0, x1, y1, its
    /// mask's run lengths.
    static func maskAPRecords(bundle: ModelBundle, dataset: any DetectionDataset, shard: Shard,
                              progress: (Int, Int) -> Void) throws -> [Double] {
        let detector = Detector(bundle: bundle, task: .instance)
        let classCount = bundle.classNames.count
        var packed: [Double] = []
        for i in shard.indices(dataset.count) {
            let sample = try dataset.sample(at: i)
            let path = dataset.imagePath(at: i)
            let w = sample.image.width, h = sample.image.height
            let truth = try instanceTruth(sample.target, width: w, height: h, classCount: classCount, path: path)
            let result = try detector.detect(sample.image, confidence: 0.001)
            guard let masks = result.masks, masks.count == result.detections.count else {
                throw MaskMetricsError.noMasks(metric: "mask AP", family: bundle.config.family)
            }
            let found = zip(result.detections, masks).filter { d, _ in
                [d.score, d.box.x0, d.box.y0, d.box.x1, d.box.y1].allSatisfy(\.isFinite)
            }
            packed += [Double(i), Double(w), Double(h), Double(truth.count), Double(found.count)]
            for t in truth {
                packed += [Double(t.label), t.crowd ? 1 : 0]
                pack(t.rle, into: &packed)
            }
            for (d, mask) in found {
                packed += [Double(d.label), Double(d.score), Double(d.box.x0), Double(d.box.y0), Double(d.box.x1), Double(d.box.y1)]
                pack(RLE(rowMajor: mask, height: h, width: w), into: &packed)
            }
            progress(i + 1, dataset.count)
        }
        return packed
    }

    /// COCOeval (segm) of every process's records, images in index order (annotation ids and
    /// result order as one process gives them).
    static func maskAP(records parts: [[Double]], bundle: ModelBundle, dataset: any DetectionDataset) throws -> (ap50: Double, map: Double) {
        var records: [(index: Int, image: COCOImage, truth: [(Int64, Bool, RLE)], results: [(Int64, Double, COCOBox, RLE)])] = []
        for part in parts {
            var reader = PackedReader(values: part)
            while !reader.atEnd {
                let i = reader.int(), w = reader.int(), h = reader.int(), objects = reader.int(), found = reader.int()
                let truth = (0..<objects).map { _ in (Int64(reader.int()), reader.next() != 0, reader.rle(height: h, width: w)) }
                let results = (0..<found).map { _ -> (Int64, Double, COCOBox, RLE) in
                    let label = Int64(reader.int()), score = reader.next()
                    let x0 = reader.next(), y0 = reader.next(), x1 = reader.next(), y1 = reader.next()
                    return (label, score, COCOBox(x: x0, y: y0, width: x1 - x0, height: y1 - y0), reader.rle(height: h, width: w))
                }
                records.append((i, COCOImage(id: Int64(i), width: w, height: h, fileName: dataset.imagePath(at: i)), truth, results))
            }
        }
        records.sort { $0.index < $1.index }
        var annotations: [COCOAnnotation] = [], results: [COCOResult] = []
        for r in records {
            for (label, crowd, rle) in r.truth {
                annotations.append(COCOAnnotation(id: Int64(annotations.count + 1), imageId: r.image.id, categoryId: label,
                                                  bbox: rle.boundingBox, area: Double(rle.area), isCrowd: crowd,
                                                  segmentation: .uncompressedRLE(height: rle.height, width: rle.width, counts: rle.counts)))
            }
            for (label, score, box, rle) in r.results {
                results.append(COCOResult(imageId: r.image.id, categoryId: label, bbox: box,
                                          segmentation: .uncompressedRLE(height: rle.height, width: rle.width, counts: rle.counts),
                                          score: score))
            }
        }
        guard !annotations.isEmpty else { return (0, 0) }
        let categories = bundle.classNames.enumerated().map { COCOCategory(id: Int64($0.offset), name: $0.element) }
        let gt = COCOInstances(images: records.map(\.image), categories: categories, annotations: annotations)
        let stats = try COCOEvaluator(groundTruth: gt, results: results, params: COCOEvalParams(iouType: .segm)).run().stats
        // COCOeval reports -1 when nothing can be measured; count that as 0.
        return (max(stats[1], 0), max(stats[0], 0))
    }

    /// Per image: index, category count, then per category: id, TP, FP, FN, IoU sum.
    static func panopticRecords(bundle: ModelBundle, dataset: any DetectionDataset, shard: Shard,
                                progress: (Int, Int) -> Void) throws -> [Double] {
        let detector = Detector(bundle: bundle, task: .panoptic)
        let classCount = bundle.classNames.count
        let categories = Set(0..<classCount)
        var packed: [Double] = []
        for i in shard.indices(dataset.count) {
            let sample = try dataset.sample(at: i)
            let path = dataset.imagePath(at: i)
            let w = sample.image.width, h = sample.image.height
            let truth = try panopticTruth(sample.target, width: w, height: h, classCount: classCount, path: path)
            guard let p = try detector.detect(sample.image, confidence: 0.001).panoptic, p.width == w, p.height == h else {
                throw MaskMetricsError.badSample(path: path, reason: "the model gave no panoptic segmentation of the image's size")
            }
            let prediction = PanopticSegmentMap(width: w, height: h, ids: p.ids.map { UInt32(truncatingIfNeeded: $0) })
            let segments = p.segments.map { PanopticSegment(id: $0.id, categoryID: $0.categoryId, area: Double($0.area)) }
            let stats = try PanopticQuality.evaluateImage(groundTruth: truth.map, groundTruthSegments: truth.segments,
                                                          prediction: prediction, predictionSegments: segments,
                                                          categories: categories, groundTruthPath: path,
                                                          predictionPath: "the panoptic prediction of \(path)")
            packed += [Double(i), Double(stats.count)]
            for (k, s) in stats.sorted(by: { $0.key < $1.key }) {
                packed += [Double(k), Double(s.tp), Double(s.fp), Double(s.fn), s.iou]
            }
            progress(i + 1, dataset.count)
        }
        return packed
    }

    /// The counts of every process's records summed in image order, averaged as panopticapi.
    static func panopticQuality(records parts: [[Double]], bundle: ModelBundle, isThing: [Bool]) -> (pq: Double, sq: Double, rq: Double) {
        var perImage: [(index: Int, stats: [(Int, PanopticCategoryStat)])] = []
        for part in parts {
            var reader = PackedReader(values: part)
            while !reader.atEnd {
                let i = reader.int(), n = reader.int()
                perImage.append((i, (0..<n).map { _ in
                    let k = reader.int(), tp = reader.int(), fp = reader.int(), fn = reader.int()
                    return (k, PanopticCategoryStat(iou: reader.next(), tp: tp, fp: fp, fn: fn))
                }))
            }
        }
        perImage.sort { $0.index < $1.index }
        var stats: [Int: PanopticCategoryStat] = [:]
        for (_, image) in perImage {
            for (k, s) in image {
                var t = stats[k, default: PanopticCategoryStat()]
                t.iou += s.iou
                t.tp += s.tp
                t.fp += s.fp
                t.fn += s.fn
                stats[k] = t
            }
        }
        let list = bundle.classNames.enumerated().map { PanopticCategory(id: $0.offset, name: $0.element, isThing: isThing[$0.offset] ? 1 : 0) }
        let all = PanopticQuality.summarize(stats: stats, categories: list, imageCount: perImage.count).all
        return (all.pq, all.sq, all.rq)
    }

    /// A process's image count, then its pixel confusion matrix (`classCount`^2 counts).
    static func confusionRecords(bundle: ModelBundle, dataset: any DetectionDataset, classCount: Int, shard: Shard,
                                 progress: (Int, Int) -> Void) throws -> [Double] {
        let detector = Detector(bundle: bundle)
        var confusion = SemanticConfusion(classCount: classCount, ignoreIndex: -1)
        for i in shard.indices(dataset.count) {
            let sample = try dataset.sample(at: i)
            let path = dataset.imagePath(at: i)
            let w = sample.image.width, h = sample.image.height
            let truth = try semanticTruth(sample.target, width: w, height: h, classCount: classCount, path: path)
            let predicted = try detector.semanticLabels(sample.image)
            try confusion.add(groundTruth: truth, prediction: predicted, width: w, image: path)
            progress(i + 1, dataset.count)
        }
        return [Double(confusion.imageCount)] + confusion.counts.map(Double.init)
    }

    /// mmsegmentation's mIoU of the processes' matrices summed (0 where it is undefined).
    static func meanIoU(records parts: [[Double]], classCount: Int) throws -> Double {
        let cells = classCount * classCount
        var counts = [Int](repeating: 0, count: cells), images = 0
        for part in parts {
            guard part.count == cells + 1 else {
                throw MaskMetricsError.invalidArgument("mIoU: a process sent \(part.count - 1) counts for \(classCount) classes")
            }
            images += Int(part[0])
            for k in 0..<cells { counts[k] += Int(part[1 + k]) }
        }
        guard let total = SemanticConfusion(classCount: classCount, ignoreIndex: -1, counts: counts, imageCount: images) else {
            throw MaskMetricsError.invalidArgument("mIoU: the processes' confusion matrices do not add up")
        }
        let miou = total.result.meanIoU
        return miou.isNaN ? 0 : miou
    }
}

extension Validation {
    /// Every process's packed values, in rank order (this process's alone without `world`).
    static func gathered(_ world: ProcessWorld?, _ work: () throws -> [Double]) throws -> [[Double]] {
        guard let world else { return [try work()] }
        return try gathered(gather: world.gather, work)
    }

    /// `work`'s values of every process: `gather` sends this process's and returns all of them
    /// in rank order. Each process sends a status first: 0 and its values, or 1 and its error's
    /// message; when any failed, every process throws after the gather (the failed one its own
    /// error), so that none waits for a process that stopped.
    static func gathered(gather: ([Double]) -> [[Double]], _ work: () throws -> [Double]) throws -> [[Double]] {
        var failure: Error?
        var sent: [Double]
        do {
            sent = [0] + (try work())
        } catch {
            failure = error
            sent = [1] + String(describing: error).utf8.map(Double.init)
        }
        let parts = gather(sent)
        if let failure { throw failure }
        if let rank = parts.firstIndex(where: { $0.first != 0 }) {
            let message = String(decoding: parts[rank].dropFirst().map { UInt8(clamping: Int($0)) }, as: UTF8.self)
            throw MaskMetricsError.otherProcess(rank: rank, message: message)
        }
        return parts.map { Array($0.dropFirst()) }
    }

    static func pack(_ rle: RLE, into packed: inout [Double]) {
        packed.append(Double(rle.counts.count))
        packed += rle.counts.map(Double.init)
    }

    /// A sample's masks, checked against the image and the classes.
    static func checkedMasks(_ target: Target, width: Int, height: Int, classCount: Int, path: String) throws -> MaskStack {
        guard let masks = target.masks else {
            throw MaskMetricsError.badSample(path: path, reason: "the sample has no masks (a data set read without them?)")
        }
        guard masks.count == target.labels.count, masks.count == target.isCrowd.count else {
            throw MaskMetricsError.badSample(path: path, reason: "\(masks.count) masks for \(target.labels.count) objects")
        }
        guard masks.width == width, masks.height == height else {
            throw MaskMetricsError.badSample(path: path, reason: "masks of \(masks.width)x\(masks.height) for a \(width)x\(height) image")
        }
        if let bad = target.labels.first(where: { !(0..<classCount).contains($0) }) {
            throw MaskMetricsError.badSample(path: path, reason: "label \(bad) is not a class of the model (0 to \(classCount - 1))")
        }
        return masks
    }

    /// Each object's label, crowd flag and mask as run lengths.
    static func instanceTruth(_ target: Target, width: Int, height: Int, classCount: Int,
                              path: String) throws -> [(label: Int, crowd: Bool, rle: RLE)] {
        let masks = try checkedMasks(target, width: width, height: height, classCount: classCount, path: path)
        let plane = width * height
        return (0..<masks.count).map { k in
            (target.labels[k], target.isCrowd[k],
             RLE(rowMajorMask: Array(masks.values[(k * plane)..<((k + 1) * plane)]), height: height, width: width))
        }
    }

    /// The ground-truth segments of a sample: mask k is segment k + 1 (a pixel of several masks
    /// belongs to the last), 0 void; categories are labels, areas the segments' pixel counts.
    static func panopticTruth(_ target: Target, width: Int, height: Int, classCount: Int,
                                 path: String) throws -> (map: PanopticSegmentMap, segments: [PanopticSegment]) {
        let masks = try checkedMasks(target, width: width, height: height, classCount: classCount, path: path)
        let plane = width * height
        var ids = [UInt32](repeating: 0, count: plane)
        for k in 0..<masks.count {
            for p in 0..<plane where masks.values[k * plane + p] != 0 { ids[p] = UInt32(k + 1) }
        }
        var area = [Int](repeating: 0, count: masks.count + 1)
        for id in ids { area[Int(id)] += 1 }
        let segments = (0..<masks.count).map {
            PanopticSegment(id: $0 + 1, categoryID: target.labels[$0], isCrowd: target.isCrowd[$0] ? 1 : 0, area: Double(area[$0 + 1]))
        }
        return (PanopticSegmentMap(width: width, height: height, ids: ids), segments)
    }

    /// The ground-truth class of every pixel (row-major): the label of the last mask covering
    /// it, -1 (void) where none does.
    static func semanticTruth(_ target: Target, width: Int, height: Int, classCount: Int, path: String) throws -> [Int] {
        let masks = try checkedMasks(target, width: width, height: height, classCount: classCount, path: path)
        let plane = width * height
        var labels = [Int](repeating: -1, count: plane)
        for k in 0..<masks.count {
            for p in 0..<plane where masks.values[k * plane + p] != 0 { labels[p] = target.labels[k] }
        }
        return labels
    }
}

extension Validation {
    /// Reads packed values in the order they were written.
    struct PackedReader {
        let values: [Double]
        var position = 0

        var atEnd: Bool { position >= values.count }

        mutating func next() -> Double {
            defer { position += 1 }
            return values[position]
        }

        mutating func int() -> Int { Int(next()) }

        /// A mask's run lengths (their count first).
        mutating func rle(height: Int, width: Int) -> RLE {
            let n = int()
            defer { position += n }
            return RLE(height: height, width: width, counts: values[position..<(position + n)].map { UInt32($0) })
        }
    }
}
