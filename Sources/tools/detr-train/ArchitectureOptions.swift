import ArgumentParser
import Model
import Pipeline

/// The network: its family, the architecture settings every family reads
/// (`ArchitectureSettings`, applied to the family's defaults) and the weights it starts from.
struct ArchitectureOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Model family: \(ModelFamilies.names.joined(separator: ", ")).", discussion: ModelFamilies.all.map { "\($0.family): \($0.summary)" }.joined(separator: "\n")))
    var model: String = ModelFamilies.names[0]
    @Option(help: "Backbone: resnet18, resnet34, resnet50, resnet101.")
    var backbone: String = "resnet50"
    @Option(help: "A full checkpoint (folder, .safetensors or PyTorch .pth such as the official DETR ones) to start from; tensors that do not fit (another class count) stay freshly initialised. With --masks: the box model whose DETR part is frozen (every tensor must fit) while the mask head trains.")
    var weights: String?
    @Option(help: "ResNet weights (.safetensors or torchvision .pth, torchvision keys) for the backbone.")
    var backboneWeights: String?

    @Option(help: "Object queries (default: the family's, DETR 100, Conditional DETR 300).")
    var queries: Int?
    @Option(help: "Query groups trained at once (Group DETR; 11 in the paper); inference uses the first group only.")
    var groups: Int?
    @Option(help: "Class loss: softmax (cross-entropy with a no-object class, DETR's) or focal (sigmoid focal loss, prior bias, focal matching cost, top-k inference).")
    var loss: String?
    @Option(help: "Backbone stages: 4 (stride-32 features) or 3 (ends after layer3: stride-16 features, 4x the tokens).")
    var backboneStages: Int?
    @Option(help: "Transformer width (default: the family's, 256).")
    var dModel: Int?
    @Option(help: "Attention heads (default 8).")
    var heads: Int?
    @Option(help: "Encoder layers (default 6).")
    var encLayers: Int?
    @Option(help: "Decoder layers (default 6).")
    var decLayers: Int?
    @Option(help: "Feed-forward width (default 2048).")
    var ffn: Int?
    @Option(help: "Dropout in the transformer (default 0.1).")
    var dropout: Float?
    @Option(help: "Points sampled per mask in Mask2Former's matching and mask losses (default 12544, 112 x 112).")
    var maskPoints: Int?
    @Flag(inversion: .prefixedNo, help: "Auxiliary decoding losses (every decoder layer).")
    var auxLoss = true

    /// The flags as the families read them.
    func settings() throws -> ArchitectureSettings {
        guard let depth = Int(backbone.lowercased().replacingOccurrences(of: "resnet", with: "")).flatMap(ResNetDepth.init(rawValue:)) else {
            throw ValidationError("unknown backbone '\(backbone)' (resnet18, resnet34, resnet50, resnet101)")
        }
        var a = ArchitectureSettings()
        a.backbone = depth
        a.backboneStages = backboneStages
        a.queries = queries
        a.groups = groups
        a.dModel = dModel
        a.heads = heads
        a.encoderLayers = encLayers
        a.decoderLayers = decLayers
        a.feedForward = ffn
        a.dropout = dropout
        a.auxLoss = auxLoss
        a.maskPoints = maskPoints
        switch loss {
        case nil: break
        case "softmax": a.classLoss = .softmax
        case "focal": a.classLoss = .sigmoid
        case let other?: throw ValidationError("unknown loss '\(other)' (softmax, focal)")
        }
        return a
    }

    /// Sets the network fields of `o`: the family's config with the settings applied, the weights.
    func apply(to o: inout TrainOptions) throws {
        let settings = try settings()
        var c: ModelConfig
        do { c = try ModelConfig(family: model) } catch { throw ValidationError("\(error)") }
        let unsupported = c.apply(settings)
        if !unsupported.isEmpty { throw ValidationError(unsupported.joined(separator: "; ")) }
        o.config = c
        o.weights = weights
        o.backboneWeights = backboneWeights
    }
}
