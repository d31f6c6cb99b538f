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
