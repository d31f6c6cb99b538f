import ArgumentParser
import Augment
import Base
import Datasets
import Foundation
import Model
import Pipeline
import Tensor
import ToolSupport

/// `detr-train`: the reference train.py with flags for its constants.
struct DETRTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detr-train",
        abstract: "Train a DETR-family model (DETR, Conditional DETR, with Group DETR query groups) on annotation lines (2007_train.txt) or a COCO instances file.",
        discussion: """
        Two phases as the reference train.py: with pretrained weights (--weights or \
        --backbone-weights) the backbone is frozen for --freeze-epochs epochs at --freeze-batch, \
        then everything trains at --batch until --epochs. Without pretrained weights the backbone \
        trains from scratch with trainable batch norms and there is no freeze phase.
        Output: logs/<timestamp>/ with best/ (lowest validation loss; training loss without a \
        validation list), last/ (every epoch), ep%03d-loss%.3f-val_loss%.3f/ every --save-period \
        epochs, config.json, epoch_loss.txt, epoch_val_loss.txt, epoch_map.txt (COCO AP50 of each \
        evaluation), epoch_loss.png and epoch_map.png; logs/best and logs/last link to the newest \
        run's. A checkpoint is a folder: model.safetensors, optimizer.safetensors, state.json. \
        Checkpoints are written atomically: an interrupted run keeps its last complete one; \
        --resume logs/last continues it (optimizer state, epoch, schedule).
        Bad list entries: a missing or unreadable image is skipped and counted (--strict-images: \
        an error), boxes reaching outside their image are clipped (counted), a class id outside \
        the classes file is an error naming the image.
        """)

    @Argument(help: "Training annotation lines (image path, then x1,y1,x2,y2,class per object).")
    var lines: String?

    @Option(help: "Validation annotation lines (validation loss, best checkpoint, COCO AP50 every --eval-period).")
    var val: String?

    @Option(help: "Classes file, one name a line (ids in file order).")
    var classes: String = "data/voc_classes.txt"

    @Option(help: "COCO instances file to train on instead of lines (classes from its categories unless --classes is given explicitly).")
    var coco: String?
    @Option(help: "Image folder of --coco.")
    var images: String?
    @Option(help: "COCO instances file for validation.")
    var cocoVal: String?
    @Option(help: "Image folder of --coco-val.")
    var valImages: String?

    @Option(help: "Input size: shorter side (detr preset; longer side at most 1333 * size / 800) or square side (reference preset).")
    var inputSize: Int = 800
    @Option(help: "Transforms preset: detr (DETR's multi-scale recipe), reference (the detr-pytorch jitter + letterbox), flip (horizontal flips, native size), none.")
    var preset: Preset = .detr
    @Option(help: "Backbone: resnet18, resnet34, resnet50, resnet101.")
    var backbone: String = "resnet50"
    @Option(help: "A full checkpoint (folder or .safetensors) to start from; tensors that do not fit (another class count) stay freshly initialised.")
    var weights: String?
    @Option(help: "ResNet weights (.safetensors, torchvision keys) for the backbone.")
    var backboneWeights: String?

    @Option(help: "Epochs with the backbone frozen (only with pretrained weights).")
    var freezeEpochs: Int = 50
    @Option(help: "Batch size of the freeze phase.")
    var freezeBatch: Int = 8
    @Option(help: "Last epoch (exclusive count: trains epochs --init-epoch+1 ... --epochs). On --resume: default the run's.")
    var epochs: Int?
    @Option(help: "Batch size of the unfreeze phase.")
    var batch: Int = 4
    @Option(help: "Epoch to start the schedule at (continuing an earlier run's schedule).")
    var initEpoch: Int = 0
    @Flag(help: "No freeze phase even with pretrained weights.")
    var noFreeze = false

    @Option(help: "Learning rate of the transformer and heads.")
    var lr: Float = 1e-4
    @Option(help: "Floor of the schedule.")
    var minLr: Float = 1e-6
    @Option(help: "Backbone learning rate as a fraction of --lr.")
    var backboneLrRatio: Float = 0.1
    @Option(help: "adamw or sgd.")
    var optimizer: OptimizerKind = .adamw
    @Option(help: "SGD momentum.")
    var momentum: Float = 0.9
    @Option(help: "Weight decay.")
    var weightDecay: Float = 1e-4
    @Option(help: "Learning-rate schedule per epoch: cos (warm-up, cosine decay to --min-lr), step (10 steps to --min-lr) or constant.")
    var schedule: LRScheduleKind = .cosine
    @Option(help: "Gradient clipping max norm (0: off).")
    var clip: Float = 0.1

    @Option(help: ArgumentHelp("Model family: \(ModelFamilies.names.joined(separator: ", ")).", discussion: ModelFamilies.all.map { "\($0.family): \($0.summary)" }.joined(separator: "\n")))
    var model: String = ModelFamilies.names[0]
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
    @Flag(inversion: .prefixedNo, help: "Auxiliary decoding losses (every decoder layer).")
    var auxLoss = true

    @Option(help: "Loader threads (0: load on the training thread). On --resume: default the run's.")
    var workers: Int?
    @Option(help: "Seed of initialisation, shuffling, augmentation and dropout.")
    var seed: UInt64 = 0
    @Option(help: "Compute threads (default: all cores).")
    var threads: Int?
    @Option(help: "Save a numbered checkpoint every this many epochs.")
    var savePeriod: Int = 10
    @Option(help: "Folder of the runs.")
    var saveDir: String = "logs"
    @Option(help: "Evaluate COCO AP50 on the validation set every this many epochs (and at the last).")
    var evalPeriod: Int = 10
    @Option(help: "Stop before an epoch that would end later than this many seconds after the start.")
    var timeLimit: Double?
    @Flag(help: "A missing or unreadable image in the lists is an error instead of a counted skip.")
    var strictImages = false
    @Option(help: "Continue a run from its checkpoint folder (logs/last).")
    var resume: String?

    func options() throws -> TrainOptions {
        var o = TrainOptions()
        o.trainList = lines
        o.valList = val
        o.cocoTrain = coco
        o.cocoTrainImages = images
        o.cocoVal = cocoVal
        o.cocoValImages = valImages
        if coco == nil || CommandLine.arguments.contains("--classes") {
            o.classNames = try ClassList.load(classes).usedNames
        }
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
        switch loss {
        case nil: break
        case "softmax": a.classLoss = .softmax
        case "focal": a.classLoss = .sigmoid
        case let other?: throw ValidationError("unknown loss '\(other)' (softmax, focal)")
        }
        var c: ModelConfig
        do { c = try ModelConfig(family: model) } catch { throw ValidationError("\(error)") }
        let unsupported = c.apply(a)
        if !unsupported.isEmpty { throw ValidationError(unsupported.joined(separator: "; ")) }
        o.config = c
        o.inputSize = inputSize
        o.preset = preset
        o.weights = weights
        o.backboneWeights = backboneWeights
        o.initEpoch = initEpoch
        o.freezeEpochs = freezeEpochs
        o.freezeBatch = freezeBatch
        o.epochs = epochs ?? 300
        o.batch = batch
        o.freezeTrain = !noFreeze
        o.lr = lr
        o.minLr = minLr
        o.backboneLrRatio = backboneLrRatio
        o.optimizer = optimizer
        o.momentum = momentum
        o.weightDecay = weightDecay
        o.schedule = schedule
        o.clip = clip
        o.workers = workers ?? 2
        o.seed = seed
        o.threads = threads
        o.savePeriod = savePeriod
        o.saveDir = saveDir
        o.evalPeriod = evalPeriod
        o.skipBadImages = !strictImages
        o.timeLimit = timeLimit
        return o
    }

    func run() throws {
        try runReporting {
            var opts: TrainOptions
            if let resume {
                opts = try Trainer.storedOptions(resume)
                if let epochs { opts.epochs = epochs }
                if let workers { opts.workers = workers }
                opts.threads = threads ?? opts.threads
                opts.timeLimit = timeLimit
            } else {
                guard lines != nil || coco != nil else { throw ToolError("give a training lines file (2007_train.txt) or --coco FILE --images DIR") }
                opts = try options()
            }
            var bar: ProgressBar?
            var barEpoch = -1
            let total = opts.epochs
            let reporter = TrainReporter(
                note: { ToolIO.printError($0) },
                progress: { epoch, i, n, status in
                    if barEpoch != epoch {
                        bar = ProgressBar(label: "Epoch \(epoch + 1)/\(total)", total: n, minimumTotal: 1)
                        barEpoch = epoch
                    }
                    bar?.update(i, n, status: status)
                },
                epochEnded: { r in
                    bar?.finish()
                    var line = String(format: "Epoch %d/%d - loss %.3f", r.epoch + 1, total, r.trainLoss)
                    if let v = r.valLoss { line += String(format: " - val_loss %.3f", v) }
                    line += " - " + r.termNames.map { String(format: "%@ %.3f", $0, r.terms[$0] ?? 0) }.joined(separator: " ")
                    line += String(format: " - lr %.1e - %.1f s (%.1f img/s)", r.learningRate, r.seconds, Double(r.images) / max(r.trainSeconds, 1e-9))
                    if let ap = r.ap50, let m = r.map { line += String(format: " - AP50 %.3f mAP %.3f", ap, m) }
                    if r.skipped > 0 { line += " - \(r.skipped) samples skipped" }
                    if r.savedBest { line += " - best" }
                    ToolIO.say(line)
                })
            let trainer = try Trainer(options: opts, resume: resume, reporter: reporter)
            let p = trainer.bundle.network.parameterCount
            let o = trainer.options
            ToolIO.say("detr-train: \(trainer.trainSet.count) training images\(trainer.valSet.map { ", \($0.count) validation images" } ?? ""), "
                       + "\(o.classNames.count) classes, \(o.config.family)\(o.config.groups > 1 ? " with \(o.config.groups) query groups" : ""), \(o.config.backbone) backbone (\(o.config.backboneNorm) batch norm), "
                       + String(format: "%.1fM parameters, ", Double(p) / 1e6) + "run folder \(trainer.runDirectory)")
            let result = try trainer.run()
            ToolIO.say("detr-train: checkpoints in \(result.runDirectory) (best: \(FileIO.join(opts.saveDir, "best")), last: \(FileIO.join(opts.saveDir, "last")))")
        }
    }
}

@main
enum DETRTrainMain {
    static func main() {
        ProcessSetup.preferPassiveOpenMPThreads()
        DETRTrain.main()
    }
}
