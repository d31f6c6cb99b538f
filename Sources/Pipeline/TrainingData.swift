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

    /// Panoptic data: the thing classes (ids); nil otherwise.
    let thingClasses: [Int]?

    /// Reads the data the options name (`panopticTrain` or `cocoTrain` with its images, else
    /// `trainList`; their validation counterparts); notes say what was skipped or clipped. A
    /// mask model's samples carry masks: COCO segmentations, panoptic segments (the validation
    /// set with its crowd segments, as the panoptic evaluation needs them), or a VOC devkit's
    /// SegmentationObject / SegmentationClass PNGs for the images of a lines file (semantic:
    /// the classes are the background, then the classes file's).
    init(options: TrainOptions, note: (String) -> Void) throws {
        var classNames = options.classNames
        let train: any DetectionDataset
        var val: (any DetectionDataset)?
        var things: [Int]?
        let masks = options.trainsMasks
        if let panoptic = options.panopticTrain {
            let ds = try COCOPanopticDataset(annotationFile: panoptic, imagesDirectory: options.cocoTrainImages ?? ".",
                                             segmentsDirectory: options.panopticTrainSegments)
            classNames = ds.categories.map(\.name)
            things = ds.isThing.indices.filter { ds.isThing[$0] }
            train = ds
            if let v = options.panopticVal {
                let vs = try COCOPanopticDataset(annotationFile: v, imagesDirectory: options.cocoValImages ?? ".",
                                                 segmentsDirectory: options.panopticValSegments, includeCrowd: true)
                guard vs.categories.map(\.name) == classNames else {
                    throw TrainError.invalidOptions(["\(v): its categories differ from \(panoptic)'s"])
                }
                val = vs
            }
        } else if let coco = options.cocoTrain {
            let instances = try COCOInstances.load(coco)
            let ds = COCODataset(instances: instances, imagesDirectory: options.cocoTrainImages ?? ".", masks: masks)
            let byId = Dictionary(instances.categories.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
            if classNames.isEmpty { classNames = ds.categoryIds.map { byId[$0] ?? "\($0)" } }
            train = ds
            if let v = options.cocoVal {
                val = try COCODataset(annotationFile: v, imagesDirectory: options.cocoValImages ?? ".", masks: masks)
            }
        } else {
            guard let list = options.trainList else { throw TrainError.invalidOptions(["no training data"]) }
            let lines = try Self.checkedLines(list, classCount: classNames.count, skipMissing: options.skipBadImages, note: note)
            let vLines = try options.valList.map {
                try Self.checkedLines($0, classCount: classNames.count, skipMissing: options.skipBadImages, note: note)
            }
            if masks {
                let semantic = options.effectiveTask == .semantic
                let names = classNames
                func devkitSet(_ l: AnnotationLinesDataset, _ path: String) throws -> any DetectionDataset {
                    try Self.devkitMasks(l, list: path, classNames: names, semantic: semantic)
                }
                train = try devkitSet(lines, list)
                val = try vLines.map { try devkitSet($0, options.valList!) }
                if semantic { classNames = ["background"] + classNames }
            } else {
                train = lines
                val = vLines
            }
        }
        guard train.count > 0 else { throw TrainError.noSamples(options.trainList ?? options.cocoTrain ?? options.panopticTrain ?? "training data") }
        if let v = val, v.count == 0 { val = nil }
        self.train = train
        validation = val
        self.classNames = classNames
        thingClasses = things
    }

    /// The masks of a lines file's images from their VOC devkit (`<root>/VOC<year>/JPEGImages/`):
    /// instance masks of the XML's objects from SegmentationObject, or (`semantic`) one region
    /// per class from SegmentationClass. Every image must be in one devkit and have its PNGs.
    static func devkitMasks(_ lines: AnnotationLinesDataset, list: String, classNames: [String], semantic: Bool) throws -> any DetectionDataset {
        var devkit: VOCDevkit?
        var ids: [String] = []
        for line in lines.lines {
            guard let (kit, id) = VOCDevkit.locating(imagePath: line.imagePath) else {
                throw TrainError.invalidOptions(["\(list): training on masks reads a VOC devkit's segmentation PNGs, but \(line.imagePath) "
                                                 + "is not in a devkit's VOC<year>/JPEGImages folder"])
            }
            if let d = devkit, d.root != kit.root || d.year != kit.year {
                throw TrainError.invalidOptions(["\(list): its images are in two devkits (\(d.yearDirectory) and \(kit.yearDirectory))"])
            }
            devkit = kit
            let png = semantic ? kit.segmentationClassPath(id) : kit.segmentationObjectPath(id)
            guard FileIO.isFile(png) else {
                throw TrainError.invalidOptions(["\(list): \(line.imagePath) has no \(png) (voc-annotation --image-sets segmentation "
                                                 + "lists the images with masks)"])
            }
            ids.append(id)
        }
        guard let devkit else { return lines }
        if semantic { return try VOCSemanticDataset(devkit: devkit, ids: ids, classCount: classNames.count + 1) }
        return try VOCFolderDataset(devkit: devkit, ids: ids, classes: ClassList(names: classNames), masks: true)
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

    /// A batch's targets as the criterion takes them (boxes `[n, 4]` cxcywh in [0, 1]; the
    /// masks `[n, H, W]` at the padded batch's size when the batch has them).
    static func targets(_ batch: Batch) -> [DETRTarget] {
        batch.targets.enumerated().map { i, t in
            DETRTarget(labels: t.labels, boxes: Tensor(t.boxes, shape: [t.labels.count, 4]), masks: batch.masks?[i])
        }
    }
}
