import Augment
import Datasets
import Eval
import Model
import NN
import Tensor

/// The number a run validates with, by what the model predicts: COCO box AP for box models,
/// COCO mask (segm) AP for instance masks, PQ for panoptic segments, mIoU for semantic regions.
public enum ValidationMetric: String, Codable, Sendable {
    case boxAP, maskAP, panopticQuality, meanIoU

    /// The metric of a run's options.
    public static func of(_ options: TrainOptions) -> ValidationMetric {
        switch options.effectiveTask {
        case nil: return .boxAP
        case .instance: return .maskAP
        case .panoptic: return .panopticQuality
        case .semantic: return .meanIoU
        }
    }

    /// What the values are called in logs (the first plotted, in `epoch_map.txt`).
    public var names: [String] {
        switch self {
        case .boxAP: return ["AP50", "mAP"]
        case .maskAP: return ["mask AP50", "mask mAP"]
        case .panopticQuality: return ["PQ", "SQ"]
        case .meanIoU: return ["mIoU"]
        }
    }

    /// Their keys in `epochs.jsonl`.
    public var keys: [String] {
        switch self {
        case .boxAP: return ["ap50", "map"]
        case .maskAP: return ["mask_ap50", "mask_map"]
        case .panopticQuality: return ["pq", "sq"]
        case .meanIoU: return ["miou"]
        }
    }

    /// The title of the metric's plot.
    public var title: String {
        switch self {
        case .boxAP: return "COCO AP50 on the validation set"
        case .maskAP: return "COCO mask AP50 on the validation set"
        case .panopticQuality: return "PQ on the validation set"
        case .meanIoU: return "mIoU on the validation set"
        }
    }
}

/// How well a network does on a validation set: the criterion's mean loss, and the metric of
/// what it predicts (`ValidationMetric`: COCO AP50 and AP (0.5:0.95) of its detections for a
/// box model). In a data-parallel run (`world`) each process computes
/// its shard (whole batches, images) and the results are gathered, so every process gets the
/// numbers one process would compute.
public struct Validation {
    public let bundle: ModelBundle
    let criterion: any TrainingCriterion
    /// The loader settings (transforms preset, input size, workers, seed).
    let options: TrainOptions
    let world: ProcessWorld?

    init(bundle: ModelBundle, criterion: any TrainingCriterion, options: TrainOptions, world: ProcessWorld? = nil) {
        self.bundle = bundle
        self.criterion = criterion
        self.options = options
        self.world = world
    }

    /// The run's metric.
    public var metricKind: ValidationMetric { ValidationMetric.of(options) }

    /// The metric's values on a data set, in `metricKind.names` order.
    public func metric(_ dataset: any DetectionDataset) throws -> [Double] {
        switch metricKind {
        case .boxAP:
            let (ap50, map) = try cocoAP(dataset)
            return [ap50, map]
        case .maskAP:
            let (ap50, map) = try Self.maskAP(bundle: bundle, dataset: dataset, world: world)
            return [ap50, map]
        case .panopticQuality:
            let isThing = bundle.classNames.indices.map(bundle.isThing)
            let (pq, sq, _) = try Self.panopticQuality(bundle: bundle, dataset: dataset, isThing: isThing, world: world)
            return [pq, sq]
        case .meanIoU:
            return [try Self.meanIoU(bundle: bundle, dataset: dataset, classCount: bundle.classNames.count, world: world)]
        }
    }

    /// Mean total loss over the validation set (inference mode: running batch-norm statistics, no dropout).
    /// A data-parallel run: rank r takes the batches b with b % processes == r, whole (the batches
    /// of one process, each normalised on its own), and the sums are added over the processes.
    public func loss(_ dataset: any DetectionDataset, batch: Int) throws -> Double {
        var shard = dataset
        if let world {
            // The owned batches in order; every one but the data set's last is full, so a
            // loader of their samples with the same batch size forms the same batches.
            let batches = (dataset.count + batch - 1) / batch
            let owned = stride(from: world.rank, to: batches, by: world.size).flatMap { b in (b * batch)..<min(dataset.count, (b + 1) * batch) }
            shard = DatasetShard(base: dataset, indices: owned)
        }
        var (sum, n) = shard.count > 0 ? try lossSum(shard, batch: batch) : (0, 0)
        if let world {
            var totals = [sum, Double(n)]
            world.sum(&totals)
            (sum, n) = (totals[0], Int(totals[1]))
        }
        return n > 0 ? sum / Double(n) : .nan
    }

    /// The total loss times the batch size, summed over the batches, and the number of samples.
    func lossSum(_ dataset: any DetectionDataset, batch: Int) throws -> (sum: Double, count: Int) {
        let loader = try TrainingData.loader(dataset, batch: batch, train: false, options: options)
        let it = loader.epoch(0)
        var sum = 0.0, n = 0
        try withNoGrad {
            while let b = try it.next() {
                var ctx = ForwardContext.inference
                let out = bundle.network(images: b.images.tensors, mask: b.images.mask, &ctx)
                let losses = try criterion.trainingLosses(out, TrainingData.targets(b), seed: options.seed)
                sum += Double(losses.total.item) * Double(b.targets.count)
                n += b.targets.count
            }
        }
        return (sum, n)
    }

    /// COCO AP50 and AP (0.5:0.95) of the network on a data set (ground truth at the original
    /// image size; detections above 0.001, as the reference collects them).
    public func cocoAP(_ dataset: any DetectionDataset) throws -> (ap50: Double, map: Double) {
        try Self.cocoAP(bundle: bundle, dataset: dataset, world: world)
    }

    /// The same for any bundle; `progress(done, total)` after each image. In a data-parallel
    /// run (`world`) rank r measures the images i with i % processes == r and the processes
    /// gather every image's ground truth and detections before the evaluation.
    public static func cocoAP(bundle: ModelBundle, dataset: any DetectionDataset, world: ProcessWorld? = nil,
                              progress: (Int, Int) -> Void = { _, _ in }) throws -> (ap50: Double, map: Double) {
        let detector = Detector(bundle: bundle)
        var images: [COCOImage] = [], annotations: [COCOAnnotation] = [], results: [COCOResult] = []
        // Per image: index, width, height, box count, detection count, then the boxes (label,
        // x, y, w, h) and the detections (label, x, y, w, h, score): what the processes gather.
        var packed: [Double] = []
        for i in 0..<dataset.count where world == nil || i % world!.size == world!.rank {
            guard let sample = try? dataset.sample(at: i) else { continue }
            let found = try detector.detect(sample.image, confidence: 0.001).detections
            packed += [Double(i), Double(sample.image.width), Double(sample.image.height), Double(sample.target.boxes.count), Double(found.count)]
            for (b, label) in zip(sample.target.boxes, sample.target.labels) {
                packed += [Double(label), Double(b.x1), Double(b.y1), Double(b.x2 - b.x1), Double(b.y2 - b.y1)]
            }
            for d in found {
                packed += [Double(d.label), Double(d.box.x0), Double(d.box.y0), Double(d.box.x1 - d.box.x0), Double(d.box.y1 - d.box.y0), Double(d.score)]
            }
            progress(i + 1, dataset.count)
        }
        // Every image's record, in index order (the annotation ids a single process gives).
        var records: [(index: Int, values: ArraySlice<Double>)] = []
        for part in world.map({ $0.gather(packed) }) ?? [packed] {
            var k = 0
            while k < part.count {
                let boxes = Int(part[k + 3]), found = Int(part[k + 4])
                let end = k + 5 + 5 * boxes + 6 * found
                records.append((Int(part[k]), part[k..<end]))
                k = end
            }
        }
        records.sort { $0.index < $1.index }
        for (i, r) in records {
            let v = Array(r)
            let id = Int64(i)
            images.append(COCOImage(id: id, width: Int(v[1]), height: Int(v[2]), fileName: dataset.imagePath(at: i)))
            let boxes = Int(v[3]), found = Int(v[4])
            for k in 0..<boxes {
                let b = v[(5 + 5 * k)...]
                let (x, y, w, h) = (b[b.startIndex + 1], b[b.startIndex + 2], b[b.startIndex + 3], b[b.startIndex + 4])
                annotations.append(COCOAnnotation(id: Int64(annotations.count + 1), imageId: id, categoryId: Int64(b[b.startIndex]),
                                                  bbox: COCOBox(x: x, y: y, width: w, height: h), area: w * h))
            }
            for k in 0..<found {
                let d = v[(5 + 5 * boxes + 6 * k)...]
                let box = COCOBox(x: d[d.startIndex + 1], y: d[d.startIndex + 2], width: d[d.startIndex + 3], height: d[d.startIndex + 4])
                results.append(COCOResult(imageId: id, categoryId: Int64(d[d.startIndex]), bbox: box, score: d[d.startIndex + 5]))
            }
        }
        guard !annotations.isEmpty else { return (0, 0) }
        let categories = bundle.classNames.enumerated().map { COCOCategory(id: Int64($0.offset), name: $0.element) }
        let gt = COCOInstances(images: images, categories: categories, annotations: annotations)
        let result = try COCOEvaluator(groundTruth: gt, results: results, params: COCOEvalParams(iouType: .bbox)).run()
        let stats = result.stats
        // COCOeval reports -1 when nothing can be measured; count that as 0.
        return (max(stats[1], 0), max(stats[0], 0))
    }
}

/// The samples of a data set at `indices`, in that order (a process's shard of a validation set).
struct DatasetShard: DetectionDataset {
    let base: any DetectionDataset
    let indices: [Int]

    var count: Int { indices.count }
    func imagePath(at index: Int) -> String { base.imagePath(at: indices[index]) }
    func sample(at index: Int) throws -> Sample { try base.sample(at: indices[index]) }
}
