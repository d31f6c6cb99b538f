import Base
import NN
import Tensor

/// Mask2Former as a model family of the tools (`mask2former`): a mask classifier whose
/// checkpoints carry its inference settings. It trains with its own criterion
/// (`Mask2FormerCriterion`, `makeTrainingCriterion`).
extension Mask2FormerConfig: MaskClassifierConfig {
    public static let family = "mask2former"
    public static let summary = "Mask2Former (Cheng et al. 2022): masked-attention mask classification for instance, panoptic and semantic segmentation"

    /// Mask2Former has one query group.
    public var groups: Int { 1 }

    public func makeNetwork(using rng: inout SplitMix64) -> any DetectionNetwork { Mask2Former(self, using: &rng) }

    /// The box-and-class criterion with Mask2Former's class weights (what the protocol asks
    /// for); the trainer takes `makeTrainingCriterion()`, Mask2Former's own.
    public func makeCriterion() -> SetCriterion {
        SetCriterion(numClasses: numClasses, weights: LossWeights(ce: weightCE, bbox: 0, giou: 0, mask: weightMask, dice: weightDice),
                     eosCoefficient: noObjectWeight)
    }

    /// Mask2Former's own criterion (point-sampled matching and mask losses, every prediction).
    public func makeTrainingCriterion() -> any TrainingCriterion {
        var c = Mask2FormerCriterion(numClasses: numClasses)
        c.numPoints = trainPoints
        return c
    }

    public mutating func apply(_ s: ArchitectureSettings) -> [String] {
        var out: [String] = []
        if let v = s.backbone { backbone = v }
        if let v = s.queries { numQueries = v }
        if let v = s.dModel {
            hiddenDim = v
            convDim = v
            maskDim = v
        }
        if let v = s.heads { heads = v }
        if let v = s.encoderLayers { encoderLayers = v }
        if let v = s.decoderLayers { decoderLayers = v }
        if let v = s.feedForward { feedForward = v }
        if let v = s.dropout { dropout = v }
        if let v = s.maskPoints { trainPoints = v }
        if s.backboneStages != nil && s.backboneStages != 4 { out.append("mask2former reads all four backbone stages") }
        if s.groups != nil && s.groups != 1 { out.append("mask2former has one query group") }
        if s.classLoss == .sigmoid { out.append("mask2former has softmax classification with \"no object\" only") }
        if s.maskHead == false { out.append("mask2former always predicts masks") }
        if s.auxLoss == false { out.append("mask2former's criterion always scores every prediction (no --no-aux-loss)") }
        return out
    }

    public static func inferred(from shapes: [String: [Int]], numClasses: Int?) throws -> Mask2FormerConfig {
        let c = try inferred(from: shapes)
        if let numClasses, numClasses != c.numClasses {
            throw StateDictError("the class head has \(c.numClasses) classes, not \(numClasses)")
        }
        return c
    }

    public func instances(classLogits: Tensor, masks: Tensor) -> [MaskInstance] {
        Mask2FormerInference.instances(classLogits: classLogits, masks: masks, topK: testTopK)
    }

    public func panoptic(classLogits: Tensor, masks: Tensor) -> PanopticPrediction {
        let things = thingClasses.map(Set.init)
        return Mask2FormerInference.panoptic(classLogits: classLogits, masks: masks, isThing: { things?.contains($0) ?? true },
                                             objectMaskThreshold: objectMaskThreshold, overlapThreshold: overlapThreshold)
    }

    public func isThing(_ label: Int) -> Bool { thingClasses?.contains(label) ?? true }
}

extension Mask2FormerConfig {
    // The criterion's weights (the official COCO configs), for `makeCriterion`.
    var weightCE: Float { Mask2FormerCriterion(numClasses: numClasses).weightCE }
    var weightMask: Float { Mask2FormerCriterion(numClasses: numClasses).weightMask }
    var weightDice: Float { Mask2FormerCriterion(numClasses: numClasses).weightDice }
    var noObjectWeight: Float { Mask2FormerCriterion(numClasses: numClasses).noObjectWeight }
}

/// Mask2Former as a network of the tools: the last prediction as a `DETROutput` (class logits,
/// mask logits, the masks' extents as boxes); in training mode the earlier predictions as `aux`.
/// The padding mask is not read (Mask2Former treats padding as image).
extension Mask2Former: DetectionNetwork {
    public var resnetBackbone: ResNet { backbone }

    public func callAsFunction(images: Tensor, mask: BoolTensor, _ ctx: inout ForwardContext) -> DETROutput {
        let out = self(images: images, &ctx)
        func output(_ p: Mask2FormerPrediction) -> DETROutput {
            DETROutput(logits: p.classLogits, boxes: Self.maskExtents(p.maskLogits), masks: p.maskLogits)
        }
        let aux = ctx.training ? out.predictions.dropLast().map(output) : []
        var last = output(out.last)
        last.aux = aux
        return last
    }

    /// Boxes [B, Q, 4] (normalised cxcywh) around the positive logits of mask logits
    /// [B, Q, h, w]: columns min ..< max + 1 over w, rows likewise; zeros for an empty mask.
    public static func maskExtents(_ maskLogits: Tensor) -> Tensor {
        let b = maskLogits.shape[0], q = maskLogits.shape[1], h = maskLogits.shape[2], w = maskLogits.shape[3]
        var boxes = [Float](repeating: 0, count: b * q * 4)
        let data = maskLogits.data
        for m in 0..<(b * q) {
            var x0 = w, y0 = h, x1 = -1, y1 = -1
            for y in 0..<h {
                for x in 0..<w where data[(m * h + y) * w + x] > 0 {
                    x0 = Swift.min(x0, x); x1 = Swift.max(x1, x)
                    y0 = Swift.min(y0, y); y1 = Swift.max(y1, y)
                }
            }
            guard x1 >= 0 else { continue }
            let fx0 = Float(x0) / Float(w), fx1 = Float(x1 + 1) / Float(w)
            let fy0 = Float(y0) / Float(h), fy1 = Float(y1 + 1) / Float(h)
            boxes[m * 4] = (fx0 + fx1) / 2
            boxes[m * 4 + 1] = (fy0 + fy1) / 2
            boxes[m * 4 + 2] = fx1 - fx0
            boxes[m * 4 + 3] = fy1 - fy0
        }
        return Tensor(boxes, shape: [b, q, 4])
    }
}
