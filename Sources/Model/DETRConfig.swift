/// Hyper-parameters of DETR with the paper's defaults (Carion et al. 2020; the official
/// facebookresearch/detr `main.py` arguments).
public struct DETRConfig: Equatable, Sendable, Codable {
    public var numQueries = 100
    public var dModel = 256
    public var heads = 8
    public var encoderLayers = 6
    public var decoderLayers = 6
    public var feedForward = 2048
    public var dropout: Float = 0.1
    public var preNorm = false
    public var auxLoss = true
    /// Real classes (the classifier has numClasses + 1 outputs); DETR's COCO value is 91.
    public var numClasses = 91
    public var backbone: ResNetDepth = .resnet50
    /// Frozen for pretrained weights, trainable when training from scratch.
    public var backboneNorm: BackboneNorm = .frozen
    /// DC5: dilate layer4 instead of striding it.
    public var dilation = false
    public var positionEncoding: PositionEncodingKind = .sine
    /// Matcher costs.
    public var costClass: Float = 1
    public var costBox: Float = 5
    public var costGIoU: Float = 2
    /// Loss weights.
    public var lossCE: Float = 1
    public var lossBox: Float = 5
    public var lossGIoU: Float = 2
    /// Weight of the "no object" class in the cross-entropy.
    public var eosCoefficient: Float = 0.1
    /// Optimiser.
    public var learningRate: Float = 1e-4
    public var backboneLearningRate: Float = 1e-5
    public var weightDecay: Float = 1e-4
    public var clipMaxNorm: Float = 0.1

    public init() {}

    /// What the segmentation head additionally needs: its group norms (8 groups) run over
    /// `dModel + heads` and `dModel / 2, / 4, / 8, / 16` channels.
    public func maskHeadProblems() -> [String] {
        var out: [String] = []
        if (dModel + heads) % 8 != 0 { out.append("the mask head needs dModel + heads (\(dModel + heads)) divisible by 8") }
        if dModel % 128 != 0 { out.append("the mask head needs dModel (\(dModel)) divisible by 128 (group norms over dModel/16 channels in 8 groups)") }
        return out
    }

    /// Checks the relations the layers rely on; returns a message for each violation.
    public func problems() -> [String] {
        var out: [String] = []
        if dModel <= 0 || heads <= 0 || dModel % heads != 0 {
            out.append("dModel (\(dModel)) must be a positive multiple of heads (\(heads))")
        }
        if dModel % 2 != 0 { out.append("dModel (\(dModel)) must be even for the sine position encoding") }
        if numQueries <= 0 { out.append("numQueries must be positive") }
        if encoderLayers < 0 || decoderLayers <= 0 { out.append("need at least one decoder layer") }
        if !(0..<1).contains(dropout) { out.append("dropout must be in [0, 1)") }
        if numClasses < 1 { out.append("numClasses must be at least 1") }
        return out
    }
}
