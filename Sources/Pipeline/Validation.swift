import Augment
import Datasets
import Eval
import Model
import NN
import Tensor

/// How well a network does on a validation set: the criterion's mean loss, and COCO AP50
/// and AP (0.5:0.95) of its detections.
public struct Validation {
    public let bundle: ModelBundle
    let criterion: SetCriterion
    /// The loader settings (transforms preset, input size, workers, seed).
    let options: TrainOptions

    init(bundle: ModelBundle, criterion: SetCriterion, options: TrainOptions) {
        self.bundle = bundle
        self.criterion = criterion
        self.options = options
    }

    /// Mean total loss over the validation set (inference mode: running batch-norm statistics, no dropout).
    public func loss(_ dataset: any DetectionDataset, batch: Int) throws -> Double {
        let loader = try TrainingData.loader(dataset, batch: batch, train: false, options: options)
        let it = loader.epoch(0)
        var sum = 0.0, n = 0
        try withNoGrad {
            while let b = try it.next() {
                var ctx = ForwardContext.inference
                let out = bundle.network(images: b.images.tensors, mask: b.images.mask, &ctx)
                let losses = try criterion(out, TrainingData.targets(b))
                sum += Double(losses.total.item) * Double(b.targets.count)
                n += b.targets.count
            }
        }
        return n > 0 ? sum / Double(n) : .nan
    }

    /// COCO AP50 and AP (0.5:0.95) of the network on a data set (ground truth at the original
    /// image size; detections above 0.001, as the reference collects them).
    public func cocoAP(_ dataset: any DetectionDataset) throws -> (ap50: Double, map: Double) {
        try Self.cocoAP(bundle: bundle, dataset: dataset)
    }

    /// The same for any bundle; `progress(done, total)` after each image.
    public static func cocoAP(bundle: ModelBundle, dataset: any DetectionDataset,
                              progress: (Int, Int) -> Void = { _, _ in }) throws -> (ap50: Double, map: Double) {
        let detector = Detector(bundle: bundle)
        var images: [COCOImage] = [], annotations: [COCOAnnotation] = [], results: [COCOResult] = []
        for i in 0..<dataset.count {
            guard let sample = try? dataset.sample(at: i) else { continue }
            let id = Int64(i)
            images.append(COCOImage(id: id, width: sample.image.width, height: sample.image.height, fileName: sample.path))
            for (b, label) in zip(sample.target.boxes, sample.target.labels) {
                let w = Double(b.x2 - b.x1), h = Double(b.y2 - b.y1)
                annotations.append(COCOAnnotation(id: Int64(annotations.count + 1), imageId: id, categoryId: Int64(label),
                                                  bbox: COCOBox(x: Double(b.x1), y: Double(b.y1), width: w, height: h), area: w * h))
            }
            for d in try detector.detect(sample.image, confidence: 0.001).detections {
                let box = COCOBox(x: Double(d.box.x0), y: Double(d.box.y0), width: Double(d.box.x1 - d.box.x0),
                                  height: Double(d.box.y1 - d.box.y0))
                results.append(COCOResult(imageId: id, categoryId: Int64(d.label), bbox: box, score: Double(d.score)))
            }
            progress(i + 1, dataset.count)
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
