import Augment
import Datasets
import Model
import Tensor

/// The data of a run: the training set, the validation set (dropped when empty) and the class
/// names (from the options, or the categories of a COCO file), each lines file checked
/// against the classes and its images; and the loaders that feed them to the network.
struct TrainingData {
    let train: any DetectionDataset
    let validation: (any DetectionDataset)?
    /// Class names in id order.
    let classNames: [String]

    /// Reads the data the options name (`cocoTrain` with its images, else `trainList`; their
    /// validation counterparts); notes say what was skipped or clipped.
    init(options: TrainOptions, note: (String) -> Void) throws {
        var classNames = options.classNames
        let train: any DetectionDataset
        var val: (any DetectionDataset)?
        if let coco = options.cocoTrain {
            let instances = try COCOInstances.load(coco)
            let ds = COCODataset(instances: instances, imagesDirectory: options.cocoTrainImages ?? ".")
            let byId = Dictionary(instances.categories.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
            if classNames.isEmpty { classNames = ds.categoryIds.map { byId[$0] ?? "\($0)" } }
            train = ds
            if let v = options.cocoVal { val = try COCODataset(annotationFile: v, imagesDirectory: options.cocoValImages ?? ".") }
        } else {
            guard let list = options.trainList else { throw TrainError.invalidOptions(["no training data"]) }
            train = try Self.checkedLines(list, classCount: classNames.count, skipMissing: options.skipBadImages, note: note)
            if let v = options.valList {
                val = try Self.checkedLines(v, classCount: classNames.count, skipMissing: options.skipBadImages, note: note)
            }
        }
        guard train.count > 0 else { throw TrainError.noSamples(options.trainList ?? options.cocoTrain ?? "training data") }
        if let v = val, v.count == 0 { val = nil }
        self.train = train
        validation = val
        self.classNames = classNames
    }

    /// Reads a lines file and checks it against the classes and the images: a class id
    /// outside the classes is an error naming the file and image; a missing or unreadable
    /// image is skipped and counted (or an error when `skipMissing` is false); boxes are
    /// clipped to the image and empty ones dropped, both counted.
    static func checkedLines(_ path: String, classCount: Int, skipMissing: Bool, note: (String) -> Void) throws -> AnnotationLinesDataset {
        let lines = try AnnotationLines.load(path)
        var kept: [AnnotationLine] = []
        var missing: [String] = []
        var clipped = 0, dropped = 0
        for line in lines {
            for b in line.boxes where b.classId >= classCount {
                throw TrainError.unknownClass(list: path, image: line.imagePath, classId: b.classId, classCount: classCount)
            }
            let size: (width: Int, height: Int)
            do {
                size = try ImageIO.size(ofFile: line.imagePath)
            } catch {
                if !skipMissing { throw error }
                missing.append("\(error)")
                continue
            }
            var out = line
            out.boxes = []
            for b in line.boxes {
                var p = b.box
                let c = PixelBox(xmin: min(max(p.xmin, 0), size.width), ymin: min(max(p.ymin, 0), size.height),
                                 xmax: min(max(p.xmax, 0), size.width), ymax: min(max(p.ymax, 0), size.height))
                if c != p { clipped += 1 }
                p = c
                if p.xmax <= p.xmin || p.ymax <= p.ymin { dropped += 1; continue }
                out.boxes.append(LabeledBox(box: p, classId: b.classId))
            }
            kept.append(out)
        }
        if !missing.isEmpty {
            note("\(path): skipped \(missing.count) of \(lines.count) images that are missing or unreadable, e.g. \(missing[0])")
        }
        if clipped > 0 || dropped > 0 {
            note("\(path): \(clipped) boxes reach outside their image and were clipped to it; \(dropped) empty boxes dropped")
        }
        return AnnotationLinesDataset(lines: kept)
    }

    /// A loader of `dataset` with the options' transforms preset (its training or validation
    /// side), shuffled and dropping the last partial batch when training.
    /// `shard` (rank, processes): this process's consecutive share of every batch (data-parallel).
    static func loader(_ dataset: any DetectionDataset, batch: Int, train: Bool, options: TrainOptions,
                       shard: (index: Int, count: Int)? = nil) throws -> DataLoader {
        let preset = options.preset
        let transform = train ? preset.train(inputSize: options.inputSize) : preset.validation(inputSize: options.inputSize)
        var loaderOptions = LoaderOptions(batchSize: batch, shuffle: train, dropLast: train && dataset.count > batch,
                                          workers: options.workers, lenient: options.skipBadImages, seed: options.seed)
        if let shard {
            loaderOptions.shardIndex = shard.index
            loaderOptions.shardCount = shard.count
        }
        return try DataLoader(dataset: dataset, transform: transform, options: loaderOptions)
    }

    /// A batch's targets as the criterion takes them (boxes `[n, 4]` cxcywh in [0, 1]).
    static func targets(_ batch: Batch) -> [DETRTarget] {
        batch.targets.map { DETRTarget(labels: $0.labels, boxes: Tensor($0.boxes, shape: [$0.labels.count, 4])) }
    }
}
