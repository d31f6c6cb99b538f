import Model

/// The tiny architectures of the model, pipeline and tool tests, which run in seconds in a debug
/// build: ResNet-18, width 32, 4 heads, feed-forward 64, one encoder layer, trainable batch norm
/// (a backbone trained from scratch), no dropout unless asked.
public enum TinyConfig {
    public static func detr(queries: Int, decoderLayers: Int = 2, classes: Int = 3, groups: Int = 1,
                            dropout: Float = 0) -> DETRConfig {
        tiny(DETRConfig(), queries: queries, decoderLayers: decoderLayers, classes: classes, groups: groups, dropout: dropout)
    }

    /// Conditional DETR on stride-16 features (3 backbone stages), as the demo's recipe.
    public static func conditionalDETR(queries: Int, decoderLayers: Int = 2, classes: Int = 3, groups: Int = 1,
                                       dropout: Float = 0) -> ConditionalDETRConfig {
        var c = tiny(ConditionalDETRConfig(), queries: queries, decoderLayers: decoderLayers, classes: classes,
                     groups: groups, dropout: dropout)
        c.backboneStages = 3
        return c
    }

    static func tiny<C: TransformerDetectorConfig>(_ config: C, queries: Int, decoderLayers: Int, classes: Int, groups: Int,
                                                   dropout: Float) -> C {
        var c = config.sized(dModel: 32, heads: 4, feedForward: 64, encoderLayers: 1, decoderLayers: decoderLayers,
                             queries: queries, dropout: dropout)
        c.backbone = .resnet18
        c.backboneNorm = .trainable
        c.numClasses = classes
        c.groups = groups
        return c
    }
}

extension TransformerDetectorConfig {
    /// This config with the transformer's sizes and dropout replaced.
    public func sized(dModel: Int, heads: Int, feedForward: Int, encoderLayers: Int, decoderLayers: Int, queries: Int,
                      dropout: Float) -> Self {
        var c = self
        c.dModel = dModel
        c.heads = heads
        c.feedForward = feedForward
        c.encoderLayers = encoderLayers
        c.decoderLayers = decoderLayers
        c.numQueries = queries
        c.dropout = dropout
        return c
    }
}

extension TinyConfig {
    /// Mask2Former as small: ResNet-18, width 32, 4 heads, one encoder layer, 3 decoder layers
    /// (one per level), 8 queries, 6 instances kept; low panoptic thresholds, so that a random
    /// model keeps segments.
    public static func mask2former(classes: Int, thingClasses: [Int]) -> Mask2FormerConfig {
        var c = Mask2FormerConfig()
        c.backbone = .resnet18
        c.backboneNorm = .trainable
        c.numClasses = classes
        c.convDim = 32
        c.maskDim = 32
        c.hiddenDim = 32
        c.heads = 4
        c.encoderLayers = 1
        c.encoderFeedForward = 64
        c.decoderLayers = 3
        c.feedForward = 64
        c.numQueries = 8
        c.testTopK = 6
        c.thingClasses = thingClasses
        c.objectMaskThreshold = 0.3
        c.overlapThreshold = 0.3
        return c
    }
}
