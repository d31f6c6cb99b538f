/// The settings every DETR-like family has (a transformer over one backbone feature map,
/// object queries in groups, Hungarian matching with class, L1 and GIoU costs): one
/// declaration for all families, each giving its paper's defaults where they differ.
public struct QueryDetectorSettings: Equatable, Sendable, Codable {
    /// Object queries per group.
    public var numQueries: Int
    public var dModel = 256
    public var heads = 8
    public var encoderLayers = 6
    public var decoderLayers = 6
    public var feedForward = 2048
    public var dropout: Float = 0.1
    /// Losses on every decoder layer's prediction, not only the last.
    public var auxLoss = true
    /// Real classes (COCO: 91).
    public var numClasses = 91
    public var backbone: ResNetDepth = .resnet50
    /// Frozen for pretrained weights, trainable when training from scratch.
    public var backboneNorm: BackboneNorm = .frozen
    /// DC5: dilate layer4 instead of striding it.
    public var dilation = false
    /// Backbone stages: 4 (stride 32) or 3 (ends at layer3, stride 16).
    public var backboneStages = 4
    /// Query groups trained at once (Group DETR; 1 = none). Inference uses group 0.
    public var groups = 1
    /// Matcher costs of the class, the L1 box distance and the GIoU.
    public var costClass: Float
    public var costBox: Float = 5
    public var costGIoU: Float = 2
    /// Loss weights of the L1 box distance and the GIoU (the class weight is the family's).
    public var lossBox: Float = 5
    public var lossGIoU: Float = 2

    public init(numQueries: Int, costClass: Float) {
        self.numQueries = numQueries
        self.costClass = costClass
    }
}

/// A DETR-like family's configuration: the shared settings and the family's own, encoded as
/// one flat JSON object (the keys of both, as checkpoints have always stored them) and read
/// as one set of fields (`config.dModel`, `config.preNorm`) through dynamic member lookup.
@dynamicMemberLookup
public protocol TransformerDetectorConfig: DetectorConfig {
    associatedtype Own: Equatable, Sendable, Codable
    var shared: QueryDetectorSettings { get set }
    var own: Own { get set }
}

extension TransformerDetectorConfig {
    public subscript<T>(dynamicMember path: WritableKeyPath<QueryDetectorSettings, T>) -> T {
        get { shared[keyPath: path] }
        set { shared[keyPath: path] = newValue }
    }

    public subscript<T>(dynamicMember path: WritableKeyPath<Own, T>) -> T {
        get { own[keyPath: path] }
        set { own[keyPath: path] = newValue }
    }

    public init(from decoder: Decoder) throws {
        self.init()
        shared = try QueryDetectorSettings(from: decoder)
        own = try Own(from: decoder)
    }

    public func encode(to encoder: Encoder) throws {
        try shared.encode(to: encoder)
        try own.encode(to: encoder)
    }

    // What `DetectorConfig` asks of every family.
    public var numClasses: Int {
        get { shared.numClasses }
        set { shared.numClasses = newValue }
    }
    public var backbone: ResNetDepth {
        get { shared.backbone }
        set { shared.backbone = newValue }
    }
    public var backboneNorm: BackboneNorm {
        get { shared.backboneNorm }
        set { shared.backboneNorm = newValue }
    }
    public var groups: Int {
        get { shared.groups }
        set { shared.groups = newValue }
    }

    /// Sets what `s` gives of the shared settings.
    mutating func applySharedSettings(_ s: ArchitectureSettings) {
        if let v = s.backbone { shared.backbone = v }
        if let v = s.backboneStages { shared.backboneStages = v }
        if let v = s.queries { shared.numQueries = v }
        if let v = s.dModel { shared.dModel = v }
        if let v = s.heads { shared.heads = v }
        if let v = s.encoderLayers { shared.encoderLayers = v }
        if let v = s.decoderLayers { shared.decoderLayers = v }
        if let v = s.feedForward { shared.feedForward = v }
        if let v = s.dropout { shared.dropout = v }
        if let v = s.auxLoss { shared.auxLoss = v }
        if let v = s.groups { shared.groups = v }
    }

    /// Width (the class head's input), queries, layer counts, feed-forward width, backbone
    /// depth, stages and norm from a state dict's shapes.
    mutating func readSharedShapes(_ s: StateDictShapes) throws {
        shared.dModel = try s.shape("class_embed.weight")[1]
        shared.numQueries = try s.shape("query_embed.weight")[0]
        shared.encoderLayers = s.count("transformer.encoder.layers")
        shared.decoderLayers = s.count("transformer.decoder.layers")
        shared.feedForward = try s.shape("transformer.decoder.layers.0.linear1.weight")[0]
        (shared.backbone, shared.backboneStages) = try s.backbone()
        shared.backboneNorm = s.backboneNorm
    }

    /// The checks of the shared settings; a message each.
    func sharedProblems() -> [String] {
        let c = shared
        var out: [String] = []
        if c.dModel <= 0 || c.heads <= 0 || c.dModel % c.heads != 0 {
            out.append("dModel (\(c.dModel)) must be a positive multiple of heads (\(c.heads))")
        }
        if c.numQueries <= 0 { out.append("numQueries must be positive") }
        if c.encoderLayers < 0 || c.decoderLayers <= 0 { out.append("need at least one decoder layer") }
        if !(0..<1).contains(c.dropout) { out.append("dropout must be in [0, 1)") }
        if c.numClasses < 1 { out.append("numClasses must be at least 1") }
        if c.groups < 1 { out.append("groups must be at least 1") }
        if c.backboneStages != 3 && c.backboneStages != 4 { out.append("backbone stages must be 3 or 4") }
        if c.dilation && c.backboneStages != 4 { out.append("dilation applies to layer4, which a 3-stage backbone does not have") }
        return out
    }
}
