import Augment
import Datasets
import Foundation
import Model
import NN
import Tensor

/// How an image becomes the network's input, and back.
public enum InputGeometry: Equatable, Sendable {
    /// Shorter side `size`, longer side at most `maxSize` (DETR's validation transform).
    case shorterSide(size: Int, maxSize: Int)
    /// Scaled to fit `size x size` and centred on grey (the reference's letterbox).
    case letterbox(size: Int)
    /// Unchanged.
    case original

    /// The geometry of a preset at an input size (`detr`: shorter side `inputSize`, longer at
    /// most `1333 * inputSize / 800`; `reference`: letterbox; `none` and `flip`: unchanged).
    public static func of(preset: Preset, inputSize: Int) -> InputGeometry {
        switch preset {
        case .detr: return .shorterSide(size: inputSize, maxSize: Preset.maxSize(forInputSize: inputSize))
        case .reference: return .letterbox(size: inputSize)
        case .none, .flip: return .original
        }
    }
}

/// An image prepared for the network, with the map from network pixels back to the image.
public struct PreparedImage: Sendable {
    /// The normalised `[1, 3, H, W]` input.
    public var input: Tensor
    /// The padding mask `[1, H, W]` (all false for a single image).
    public var mask: BoolTensor
    public var originalSize: (height: Int, width: Int)
    /// Size of the network input.
    public var inputSize: (height: Int, width: Int)
    /// Network-input pixel p maps to image pixel `(p - offset) / scale`.
    public var scale: (x: Float, y: Float)
    public var offset: (x: Float, y: Float)
}

/// Detections of one image in its own pixels, and the raw network output.
public struct DetectionResult: Sendable {
    public var detections: [Detection]
    /// Per detection, a binary mask at the image size (models with a segmentation head, mask
    /// classifiers).
    public var masks: [[Bool]]?
    /// A mask classifier's panoptic segmentation at the image size, when the detector's task is
    /// panoptic.
    public var panoptic: PanopticPrediction?
    public var output: DETROutput
    public var prepared: PreparedImage
    /// A mask classifier's semantic label map at the image size (row-major class ids), when the
    /// detector's task is semantic; the detections are then its regions, one per class present
    /// (score 1, the region as mask, its extent as box).
    public var semantic: [Int]? = nil
}

extension ModelBundle {
    /// The segmentation tasks the network's results serve: a mask classifier's three, DETR's
    /// with its mask head instance and (softmax scoring) panoptic, its PostProcessPanoptic;
    /// none for a box model.
    public var segmentationTasks: [SegmentationTask] {
        if config.value is any MaskClassifierConfig { return SegmentationTask.allCases }
        guard let detr = config.as(DETRConfig.self), detr.maskHead else { return [] }
        // Its PostProcessPanoptic scores with a softmax over the classes and "no object".
        return detr.classLoss == .softmax ? [.instance, .panoptic] : [.instance]
    }

    /// The task of the checkpoint's results (its config's; DETR's mask head without one:
    /// instance); nil for a box model.
    public var defaultTask: SegmentationTask? {
        if let classifier = config.value as? any MaskClassifierConfig { return classifier.task }
        if let detr = config.as(DETRConfig.self), detr.maskHead { return detr.task ?? .instance }
        return nil
    }

    /// Panoptic: whether class `label` is a thing (the config's thing classes; every class of a
    /// model without them).
    public func isThing(_ label: Int) -> Bool {
        if let classifier = config.value as? any MaskClassifierConfig { return classifier.isThing(label) }
        return config.as(DETRConfig.self)?.isThing(label) ?? true
    }
}

/// Runs a `ModelBundle` on images: preprocessing of its preset, the network in inference mode
/// (no gradient tape), the family's post-processing (DETR's for box models, the family's own
/// inference for mask classifiers) and the map back to image pixels.
public final class Detector {
    public let bundle: ModelBundle
    public let geometry: InputGeometry
    public let normalization: Normalization
    /// A mask model's task (default: its checkpoint's; a DETR segmentation model without one:
    /// instance); nil for box models.
    public let task: SegmentationTask?

    public init(bundle: ModelBundle, geometry: InputGeometry? = nil, normalization: Normalization = .imageNet,
                task: SegmentationTask? = nil) {
        self.bundle = bundle
        self.geometry = geometry ?? .of(preset: bundle.state.preset, inputSize: bundle.state.inputSize)
        self.normalization = normalization
        self.task = bundle.defaultTask.map { task ?? $0 }
    }

    /// Resizes (or letterboxes) and normalises. An image already at the target size is used
    /// as it is (no resampling).
    public func prepare(_ image: RGBImage) -> PreparedImage {
        var img = image
        var scale: (x: Float, y: Float) = (1, 1)
        var offset: (x: Float, y: Float) = (0, 0)
        switch geometry {
        case .original:
            break
        case let .shorterSide(size, maxSize):
            let (h, w) = Functional.sizeWithAspectRatio(width: image.width, height: image.height, size: size, maxSize: maxSize)
            if h != image.height || w != image.width {
                img = image.resized(width: w, height: h, filter: .bilinear)
                scale = (Float(w) / Float(image.width), Float(h) / Float(image.height))
            }
        case let .letterbox(size):
            let s = Functional.letterbox(Sample(image: image, target: Target(boxes: [], labels: [])), width: size, height: size)
            img = s.image
            let f = min(Double(size) / Double(image.width), Double(size) / Double(image.height))
            let nw = Int(Double(image.width) * f), nh = Int(Double(image.height) * f)
            scale = (Float(nw) / Float(image.width), Float(nh) / Float(image.height))
            offset = (Float((size - nw) / 2), Float((size - nh) / 2))
        }
        let t = normalization(Sample(image: img, target: Target(boxes: [], labels: []))).image
        let input = t.reshape([1, 3, img.height, img.width])
        let mask = BoolTensor([Bool](repeating: false, count: img.height * img.width), shape: [1, img.height, img.width])
        return PreparedImage(input: input, mask: mask, originalSize: (image.height, image.width),
                             inputSize: (img.height, img.width), scale: scale, offset: offset)
    }

    /// The raw network output for a prepared image.
    public func run(_ p: PreparedImage) -> DETROutput {
        var ctx = ForwardContext.inference
        return withNoGrad { bundle.network(images: p.input, mask: p.mask, &ctx) }
    }

    /// Detections with a score above `confidence`, in image pixels, clipped to the image.
    public func detect(_ image: RGBImage, confidence: Float) throws -> DetectionResult {
        let p = prepare(image)
        return try postprocess(run(p), prepared: p, confidence: confidence)
    }

    public func postprocess(_ out: DETROutput, prepared p: PreparedImage, confidence: Float) throws -> DetectionResult {
        if let classifier = bundle.config.value as? any MaskClassifierConfig {
            return try classifyMasks(out, prepared: p, confidence: confidence, classifier)
        }
        // Without a letterbox the normalised boxes scale straight to the image (as DETR's
        // PostProcess with the original sizes); with one, through the canvas.
        let direct = p.offset == (0, 0)
        var dets = try PostProcess(scoreThreshold: confidence).process(out, imageSizes: [direct ? p.originalSize : p.inputSize])[0]
        let w = Float(p.originalSize.width), h = Float(p.originalSize.height)
        for i in dets.indices {
            var b = dets[i].box
            if !direct {
                b.x0 = (b.x0 - p.offset.x) / p.scale.x
                b.x1 = (b.x1 - p.offset.x) / p.scale.x
                b.y0 = (b.y0 - p.offset.y) / p.scale.y
                b.y1 = (b.y1 - p.offset.y) / p.scale.y
            }
            b.x0 = min(max(b.x0, 0), w)
            b.x1 = min(max(b.x1, 0), w)
            b.y0 = min(max(b.y0, 0), h)
            b.y1 = min(max(b.y1, 0), h)
            dets[i].box = b
        }
        var masks: [[Bool]]?
        var panoptic: PanopticPrediction?
        if let m = out.masks {
            let canvas = postProcessSegmentation(masks: m, processedSizes: [p.inputSize], originalSizes: [p.inputSize])[0]
            let (xs, ys) = Self.inputPixels(p)
            let ow = p.originalSize.width, oh = p.originalSize.height, iw = p.inputSize.width
            masks = dets.map { d in
                let src = canvas.masks[d.query]
                var dst = [Bool](repeating: false, count: ow * oh)
                for y in 0..<oh { for x in 0..<ow { dst[y * ow + x] = src[ys[y] * iw + xs[x]] } }
                return dst
            }
            if task == .panoptic, let detr = bundle.config.as(DETRConfig.self) {
                panoptic = try detrPanoptic(out, prepared: p, detr)
            }
        }
        return DetectionResult(detections: dets, masks: masks, panoptic: panoptic, output: out, prepared: p)
    }

    /// For each original pixel column and row, the network-input pixel it came from.
    static func inputPixels(_ p: PreparedImage) -> (xs: [Int], ys: [Int]) {
        let iw = p.inputSize.width, ih = p.inputSize.height
        let xs = (0..<p.originalSize.width).map { min(max(Int(Float($0) * p.scale.x + p.offset.x), 0), iw - 1) }
        let ys = (0..<p.originalSize.height).map { min(max(Int(Float($0) * p.scale.y + p.offset.y), 0), ih - 1) }
        return (xs, ys)
    }

    /// DETR's PostProcessPanoptic of one image (`postProcessPanoptic`: the official threshold
    /// 0.85 unless the config sets one, stuff classes from its `thingClasses`) at the image's
    /// size: straight to it without a letterbox (the official target size); with one, on the
    /// network input and then through the letterbox to the image (segments that vanish there
    /// are dropped). Segment ids count from 1 (0 is void in the COCO panoptic PNGs; the
    /// reference numbers them from 0).
    func detrPanoptic(_ out: DETROutput, prepared p: PreparedImage, _ config: DETRConfig) throws -> PanopticPrediction {
        try out.validate()
        guard let masks = out.masks, out.batchSize == 1 else {
            throw DETRInputError.invalidArgument("DETR's panoptic post-processing needs mask logits for one image")
        }
        guard config.classLoss == .softmax else {
            throw DETRInputError.invalidArgument("DETR's panoptic post-processing needs softmax classification with \"no object\" (this model scores with sigmoid focal)")
        }
        let threshold = config.panopticThreshold ?? 0.85
        let direct = p.offset == (0, 0)
        var pred = postProcessPanoptic(logits: out.logits.squeeze(0), masks: masks.squeeze(0), isThing: config.isThing,
                                       processedSize: p.inputSize, targetSize: direct ? p.originalSize : p.inputSize,
                                       threshold: threshold)
        if !direct {
            let (xs, ys) = Self.inputPixels(p)
            let ow = p.originalSize.width, oh = p.originalSize.height, iw = p.inputSize.width
            var ids = [Int32](repeating: 0, count: ow * oh)
            var area = [Int](repeating: 0, count: pred.segments.count)
            for y in 0..<oh {
                for x in 0..<ow {
                    let v = pred.ids[ys[y] * iw + xs[x]]
                    ids[y * ow + x] = v
                    if Int(v) < area.count { area[Int(v)] += 1 }
                }
            }
            pred = PanopticPrediction(height: oh, width: ow, ids: ids, segments: pred.segments.map { s in
                var s = s
                s.area = area[s.id]
                return s
            })
        }
        // Ids from 1; without segments every pixel is void.
        let kept = pred.segments.filter { $0.area > 0 }
        var renumber = [Int32](repeating: 0, count: pred.segments.count)
        for (k, s) in kept.enumerated() { renumber[s.id] = Int32(k + 1) }
        let ids = pred.ids.map { Int($0) < renumber.count ? renumber[Int($0)] : 0 }
        let segments = kept.enumerated().map { k, s in PredictedSegment(id: k + 1, isThing: s.isThing, categoryId: s.categoryId, area: s.area) }
        return PanopticPrediction(height: pred.height, width: pred.width, ids: ids, segments: segments)
    }
}

extension Detector {
    /// A mask classifier's results: its instances with a score above `confidence` (boxes: the
    /// masks' extents in image pixels, zero for an empty mask) and, for the panoptic task, its
    /// panoptic segmentation, from the mask logits brought to the image's size.
    func classifyMasks(_ out: DETROutput, prepared p: PreparedImage, confidence: Float,
                       _ classifier: any MaskClassifierConfig) throws -> DetectionResult {
        try out.validate()
        guard let maskLogits = out.masks, out.batchSize == 1 else {
            throw DETRInputError.invalidArgument("a mask classifier's output needs mask logits for one image")
        }
        let classLogits = out.logits.squeeze(0)
        let masks = imageMaskLogits(maskLogits.squeeze(0), prepared: p)
        if task == .semantic { return semanticRegions(Self.semanticArgmax(classLogits: classLogits, masks: masks), out, p) }
        let instances = classifier.instances(classLogits: classLogits, masks: masks).filter { $0.score > confidence }
        let w = p.originalSize.width
        let detections = instances.enumerated().map { k, inst -> Detection in
            var x0 = w, y0 = p.originalSize.height, x1 = 0, y1 = 0
            for (i, on) in inst.mask.enumerated() where on {
                let x = i % w, y = i / w
                x0 = min(x0, x); x1 = max(x1, x + 1)
                y0 = min(y0, y); y1 = max(y1, y + 1)
            }
            let box = x1 > 0 ? DetectionBox(x0: Float(x0), y0: Float(y0), x1: Float(x1), y1: Float(y1)) : DetectionBox(x0: 0, y0: 0, x1: 0, y1: 0)
            return Detection(query: k, label: inst.label, score: inst.score, box: box)
        }
        let panoptic = task == .panoptic ? classifier.panoptic(classLogits: classLogits, masks: masks) : nil
        return DetectionResult(detections: detections, masks: instances.map(\.mask), panoptic: panoptic, output: out, prepared: p)
    }

    /// One image's mask logits [Q, h, w] at the image's size: bilinear (align_corners false) to
    /// the network input, its image part (without a letterbox's border), bilinear to the
    /// original size, as the official `sem_seg_postprocess`.
    func imageMaskLogits(_ logits: Tensor, prepared p: PreparedImage) -> Tensor {
        if p.offset == (0, 0) {
            return Mask2FormerInference.resizedMasks(logits, paddedSize: p.inputSize, imageSize: p.inputSize, outputSize: p.originalSize)
        }
        let full = Mask2FormerInference.resizedMasks(logits, paddedSize: p.inputSize, imageSize: p.inputSize, outputSize: p.inputSize)
        let x0 = Int(p.offset.x), y0 = Int(p.offset.y)
        let cw = max(1, min(p.inputSize.width - x0, Int((Float(p.originalSize.width) * p.scale.x).rounded())))
        let ch = max(1, min(p.inputSize.height - y0, Int((Float(p.originalSize.height) * p.scale.y).rounded())))
        let q = logits.shape[0]
        return withNoGrad {
            full.unsqueeze(0).slice(axis: 2, y0..<(y0 + ch)).slice(axis: 3, x0..<(x0 + cw))
                .interpolateBilinear(p.originalSize.height, p.originalSize.width).reshape([q, p.originalSize.height, p.originalSize.width])
        }
    }
}

extension Detector {
    /// A mask classifier's semantic segmentation of one image at its size, row-major: per pixel
    /// the class of highest semantic score (`Mask2FormerInference.semantic`: the sum over queries
    /// of class probability times mask probability, the official semantic inference), the first
    /// class on a tie. A box model is an error.
    public func semanticLabels(_ image: RGBImage) throws -> [Int] {
        guard bundle.config.value is any MaskClassifierConfig else {
            throw DETRInputError.invalidArgument("a \(bundle.config.family) model predicts boxes; semantic labels need a mask classifier")
        }
        let p = prepare(image)
        let out = run(p)
        try out.validate()
        guard let maskLogits = out.masks, out.batchSize == 1 else {
            throw DETRInputError.invalidArgument("a mask classifier's output needs mask logits for one image")
        }
        return Self.semanticArgmax(classLogits: out.logits.squeeze(0), masks: imageMaskLogits(maskLogits.squeeze(0), prepared: p))
    }

    /// Per pixel the class of highest semantic score, from one image's class logits [Q, C+1] and
    /// mask logits [Q, H, W].
    static func semanticArgmax(classLogits: Tensor, masks: Tensor) -> [Int] {
        let scores = Mask2FormerInference.semantic(classLogits: classLogits, masks: masks)
        let c = scores.shape[0], hw = scores.shape[1] * scores.shape[2]
        let s = scores.data
        var labels = [Int](repeating: 0, count: hw)
        for i in 0..<hw {
            var best = s[i], label = 0
            for k in 1..<max(c, 1) where s[k * hw + i] > best {
                best = s[k * hw + i]
                label = k
            }
            labels[i] = label
        }
        return labels
    }
}

extension Detector {
    /// The semantic task's result: the label map, and one region per class present as a
    /// detection (score 1) with its mask and extent.
    func semanticRegions(_ labels: [Int], _ out: DETROutput, _ p: PreparedImage) -> DetectionResult {
        let w = p.originalSize.width
        var present: [Int: Int] = [:]
        var regions: [[Bool]] = [], extents: [(x0: Int, y0: Int, x1: Int, y1: Int)] = [], classes: [Int] = []
        for (i, label) in labels.enumerated() {
            let k: Int
            if let found = present[label] {
                k = found
            } else {
                k = regions.count
                present[label] = k
                regions.append([Bool](repeating: false, count: labels.count))
                extents.append((Int.max, Int.max, 0, 0))
                classes.append(label)
            }
            regions[k][i] = true
            let x = i % w, y = i / w
            extents[k] = (min(extents[k].x0, x), min(extents[k].y0, y), max(extents[k].x1, x + 1), max(extents[k].y1, y + 1))
        }
        let order = classes.indices.sorted { classes[$0] < classes[$1] }
        let detections = order.enumerated().map { n, k in
            Detection(query: n, label: classes[k], score: 1,
                      box: DetectionBox(x0: Float(extents[k].x0), y0: Float(extents[k].y0), x1: Float(extents[k].x1), y1: Float(extents[k].y1)))
        }
        return DetectionResult(detections: detections, masks: order.map { regions[$0] }, panoptic: nil, output: out, prepared: p, semantic: labels)
    }
}
