import Augment
import Base
import Datasets
import Eval
import Foundation
import Model
import NN
import Plots
import Tensor
import ToolSupport

/// Errors of a training run; each names what it is about.
public enum TrainError: Error, CustomStringConvertible {
    case invalidOptions([String])
    case nonFiniteLoss(epoch: Int, iteration: Int, step: Int, value: Float, checkpoint: String?)
    case unknownClass(list: String, image: String, classId: Int, classCount: Int)
    case noSamples(String)
    case backboneWeights(path: String, reason: String)
    case resume(path: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidOptions(list):
            return "invalid settings: " + list.joined(separator: "; ")
        case let .nonFiniteLoss(epoch, iteration, step, value, checkpoint):
            let kept = checkpoint.map { "; the last good checkpoint is \($0)" } ?? "; no checkpoint was written yet"
            return "non-finite loss (\(value)) at epoch \(epoch + 1), iteration \(iteration + 1) (step \(step + 1)): training stopped\(kept)"
        case let .unknownClass(list, image, classId, classCount):
            return "\(list): \(image): class id \(classId) is not in the classes file (\(classCount) classes, ids 0..\(classCount - 1))"
        case let .noSamples(what):
            return "\(what): no usable samples"
        case let .backboneWeights(path, reason):
            return "\(path): \(reason)"
        case let .resume(path, reason):
            return "\(path): cannot resume: \(reason)"
        }
    }
}

/// What happened in one epoch.
public struct EpochRecord: Sendable {
    public var epoch: Int
    public var trainLoss: Double
    public var valLoss: Double?
    /// Mean of the last-layer loss terms over the epoch, by short name (`ce`, `bbox`, `giou`).
    public var terms: [String: Double]
    /// The terms' names in the criterion's order.
    public var termNames: [String] = []
    public var learningRate: Float
    /// The whole epoch: training, validation loss and evaluation.
    public var seconds: Double
    /// Training steps only (what images/s is measured on).
    public var trainSeconds: Double = 0
    /// Seconds since the run (or its resumption) started, at the end of this epoch.
    public var elapsed: Double = 0
    public var images: Int
    public var skipped: Int
    /// COCO AP at IoU 0.5 and AP 0.5:0.95 on the validation set, in epochs with an evaluation.
    public var ap50: Double?
    public var map: Double?
    public var savedBest: Bool
}

extension EpochRecord {
    /// One line of `epochs.jsonl`: the epoch (1-based), seconds since the start, training
    /// images per second, losses, the last layer's loss terms and the validation AP.
    public func jsonLine() throws -> String {
        var object: [String: Any] = [
            "epoch": epoch + 1, "elapsed_s": (elapsed * 1000).rounded() / 1000, "epoch_s": (seconds * 1000).rounded() / 1000,
            "images": images, "images_per_s": (Double(images) / max(trainSeconds, 1e-9) * 100).rounded() / 100,
            "train_loss": trainLoss, "lr": Double(learningRate),
            "terms": terms,
        ]
        if let valLoss { object["val_loss"] = valLoss }
        if let ap50 { object["ap50"] = ap50 }
        if let map { object["map"] = map }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
}

/// Callbacks of a run (all optional): notes, per-iteration progress and epoch summaries.
public struct TrainReporter {
    public var note: (String) -> Void
    public var progress: (_ epoch: Int, _ iteration: Int, _ iterations: Int, _ status: String) -> Void
    public var epochEnded: (EpochRecord) -> Void

    public init(note: @escaping (String) -> Void = { _ in },
                progress: @escaping (Int, Int, Int, String) -> Void = { _, _, _, _ in },
                epochEnded: @escaping (EpochRecord) -> Void = { _ in }) {
        self.note = note
        self.progress = progress
        self.epochEnded = epochEnded
    }
}

/// The outcome of `Trainer.run`.
public struct TrainResult: Sendable {
    public var runDirectory: String
    public var records: [EpochRecord]
    /// Why the run ended before its last epoch (time limit), if it did.
    public var stoppedEarly: String?
}

/// The training loop of the reference train.py over this package's pieces: data set and
/// loader (Augment), DETR with its set criterion (Model), AdamW or SGD with a per-epoch
/// schedule and gradient clipping (NN), COCO evaluation (Eval), atomic checkpoints and the
/// logs folder (`logs/<timestamp>/` with `best/`, `last/`, periodic checkpoints, loss and mAP
/// text files and plots; `logs/best` and `logs/last` link to the newest run's).
public final class Trainer {
    public let options: TrainOptions
    public let bundle: ModelBundle
    public let trainSet: any DetectionDataset
    public let valSet: (any DetectionDataset)?
    public let runDirectory: String
    let optimizer: any Optimizer
    let criterion: SetCriterion
    /// Backbone parameters that train in the unfreeze phase (frozen in the freeze phase).
    let backboneTrainable: [Tensor]
    let pretrained: Bool
    var step = 0
    var startEpoch: Int
    var bestLoss: Double?
    var records: [EpochRecord] = []
    var lastCheckpoint: String?
    let reporter: TrainReporter

    /// Sets up a run: reads and checks the data, builds (or loads) the network and optimizer.
    /// `resume` is a checkpoint folder written by a run (`logs/last`): its weights, optimizer
    /// state, epoch and run folder are taken up again, with the given options (start from
    /// `storedOptions(resume)` to continue the same run).
    public init(options given: TrainOptions, resume: String? = nil, reporter: TrainReporter = TrainReporter()) throws {
        self.reporter = reporter
        var options = given
        var resumeState: CheckpointState?
        var resumeOptimizer: [String: Tensor]?
        var resumeModel: [String: Tensor]?
        if let resume {
            let loaded: (model: [String: Tensor], optimizer: [String: Tensor]?, state: Data)
            do { loaded = try Checkpoint.load(from: resume) } catch { throw TrainError.resume(path: resume, reason: "\(error)") }
            let state: CheckpointState
            do { state = try CheckpointState.decode(loaded.state, path: FileIO.join(resume, Checkpoint.stateFile)) } catch {
                throw TrainError.resume(path: resume, reason: "\(error)")
            }
            guard state.training != nil else { throw TrainError.resume(path: resume, reason: "state.json has no training options") }
            guard loaded.optimizer != nil else { throw TrainError.resume(path: resume, reason: "no \(Checkpoint.optimizerFile)") }
            options.classNames = state.classNames
            resumeState = state
            resumeOptimizer = loaded.optimizer
            resumeModel = loaded.model
        }
        if let threads = options.threads { Threads.count = threads }

        // Data first: class names may come from a COCO file.
        var classNames = options.classNames
        let train: any DetectionDataset
        var val: (any DetectionDataset)?
        if let coco = options.cocoTrain {
            let instances = try COCOInstances.load(coco)
            let ds = COCODataset(instances: instances, imagesDirectory: options.cocoTrainImages ?? ".")
            let byId = Dictionary(instances.categories.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
            if classNames.isEmpty { classNames = ds.categoryIds.map { byId[$0] ?? "\($0)" } }
            train = ds
            if let v = options.cocoVal { val = try COCODataset(annotationFile: v, imagesDirectory: options.cocoValImages ?? ".") }
        } else {
            guard let list = options.trainList else { throw TrainError.invalidOptions(["no training data"]) }
            train = try Self.checkedLines(list, classCount: classNames.count, skipMissing: options.skipBadImages, note: reporter.note)
            if let v = options.valList {
                val = try Self.checkedLines(v, classCount: classNames.count, skipMissing: options.skipBadImages, note: reporter.note)
            }
        }
        guard train.count > 0 else { throw TrainError.noSamples(options.trainList ?? options.cocoTrain ?? "training data") }
        if let v = val, v.count == 0 { val = nil }
        options.classNames = classNames
        options.config.numClasses = classNames.count
        pretrained = options.weights != nil || options.backboneWeights != nil
        // A backbone trained from scratch needs batch norms that learn (see BackboneNorm).
        options.config.backboneNorm = pretrained ? .frozen : .trainable
        if let state = resumeState { options.config = state.config }
        let problems = options.problems()
        guard problems.isEmpty else { throw TrainError.invalidOptions(problems) }
        self.options = options
        trainSet = train
        valSet = val

        // Network.
        let b = ModelBundle.fresh(config: options.config, classNames: classNames, inputSize: options.inputSize,
                                  preset: options.preset, seed: options.seed)
        if let model = resumeModel {
            if let mismatch = try b.network.load(model, strict: true) {
                throw TrainError.resume(path: resume!, reason: "weights do not fit: \(mismatch)")
            }
        } else {
            if let w = options.weights { try Self.loadMatching(w, into: b, note: reporter.note) }
            if let w = options.backboneWeights { try Self.loadBackbone(w, into: b, note: reporter.note) }
        }
        b.state.training = options
        bundle = b

        // Optimizer: every parameter that may train, the backbone in its own group at the
        // backbone ratio. Parameters frozen for a phase keep their slots (no gradient: no update).
        let params = b.network.namedParameters()
        let isBackbone: (String) -> Bool = { $0.hasPrefix("backbone.") || $0.hasPrefix("detr.backbone.") }
        let backbone = params.filter { isBackbone($0.key) }.map(\.tensor)
        let rest = params.filter { !isBackbone($0.key) }.map(\.tensor)
        backboneTrainable = backbone
        let groups = [ParameterGroup(parameters: rest, learningRate: options.lr, weightDecay: options.weightDecay),
                      ParameterGroup(parameters: backbone, learningRate: options.lr * options.backboneLrRatio,
                                     weightDecay: options.weightDecay, lrScale: options.backboneLrRatio)]
        optimizer = options.optimizer == "sgd" ? SGD(groups: groups, momentum: options.momentum) as any Optimizer
            : AdamW(groups: groups) as any Optimizer
        criterion = options.config.makeCriterion()

        if let state = resumeState, let opt = resumeOptimizer {
            do { try optimizer.loadState(opt) } catch { throw TrainError.resume(path: resume!, reason: "\(error)") }
            startEpoch = state.epoch
            step = state.step
            bestLoss = state.bestValLoss
            runDirectory = state.runDirectory ?? Self.resolvedRunDirectory(resume!)
            lastCheckpoint = resume
            reporter.note("resuming \(runDirectory) at epoch \(startEpoch + 1) (step \(step))")
        } else {
            startEpoch = options.initEpoch
            let stamp = Self.timestamp()
            var dir = FileIO.join(options.saveDir, stamp)
            var k = 1
            while FileManager.default.fileExists(atPath: dir) {
                k += 1
                dir = FileIO.join(options.saveDir, "\(stamp)-\(k)")
            }
            runDirectory = dir
        }
        bundle.state.runDirectory = runDirectory
    }

    /// The training options a checkpoint of a run was written with.
    public static func storedOptions(_ checkpoint: String) throws -> TrainOptions {
        let state: CheckpointState
        do { state = try CheckpointState.read(folder: checkpoint) } catch {
            throw TrainError.resume(path: checkpoint, reason: "\(error)")
        }
        guard let t = state.training else { throw TrainError.resume(path: checkpoint, reason: "state.json has no training options") }
        return t
    }

    // MARK: data

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

    /// Loads the tensors of a checkpoint whose names and shapes fit; the rest (a class head
    /// for another class count, say) keeps its fresh initialisation, as the reference does.
    static func loadMatching(_ path: String, into bundle: ModelBundle, note: (String) -> Void) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw ModelFileError.notFound(path: path) }
        let file = isDir.boolValue ? FileIO.join(path, Checkpoint.modelFile) : path
        let tensors = try SafeTensors.read(file).tensors
        var state = bundle.network.stateDict()
        var loaded = 0
        var skipped: [String] = []
        for (k, t) in state {
            if let src = tensors[k], src.shape == t.shape {
                state[k] = src
                loaded += 1
            } else if !k.hasSuffix("num_batches_tracked") {
                skipped.append(k)
            }
        }
        guard loaded > 0 else { throw ModelFileError.incompatible(path: path, reason: "no tensor fits this network") }
        _ = try bundle.network.load(state, strict: true)
        note("\(path): loaded \(loaded) tensors" + (skipped.isEmpty ? "" :
            "; \(skipped.count) kept freshly initialised (missing or another shape: \(skipped.sorted().prefix(4).joined(separator: ", "))\(skipped.count > 4 ? ", ..." : ""))"))
    }

    /// Loads ResNet weights (torchvision keys `conv1.weight`, `layer1.0...`, or already
    /// prefixed `backbone.0.body.`) into the backbone; every backbone tensor must be there.
    static func loadBackbone(_ path: String, into bundle: ModelBundle, note: (String) -> Void) throws {
        let tensors = try SafeTensors.read(path).tensors
        let prefix = bundle.state.hasMaskHead ? "detr.backbone.0.body." : "backbone.0.body."
        var state = bundle.network.stateDict()
        var count = 0
        for (k, t) in state where k.hasPrefix(prefix) && !k.hasSuffix("num_batches_tracked") {
            let short = String(k.dropFirst(prefix.count))
            guard let src = tensors[k] ?? tensors[short] ?? tensors["backbone.0.body." + short] else {
                throw TrainError.backboneWeights(path: path, reason: "missing \(short) (or \(k))")
            }
            guard src.shape == t.shape else {
                throw TrainError.backboneWeights(path: path, reason: "\(short) has shape \(src.shape), the backbone needs \(t.shape)")
            }
            state[k] = src
            count += 1
        }
        _ = try bundle.network.load(state, strict: true)
        note("\(path): loaded \(count) backbone tensors")
    }

    static func timestamp() -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.dateFormat = "yyyy_MM_dd_HH_mm_ss"
        return f.string(from: Date())
    }

    /// The run folder of a checkpoint: the folder holding it, through a `logs/last` link.
    static func resolvedRunDirectory(_ checkpoint: String) -> String {
        let url = URL(fileURLWithPath: checkpoint).resolvingSymlinksInPath()
        return url.deletingLastPathComponent().path
    }

    func loader(_ dataset: any DetectionDataset, batch: Int, train: Bool) throws -> DataLoader {
        let transform: any Transform
        let preset = Preset(rawValue: options.preset) ?? .detr
        transform = train ? preset.train(inputSize: options.inputSize) : preset.validation(inputSize: options.inputSize)
        return try DataLoader(dataset: dataset, transform: transform,
                              options: LoaderOptions(batchSize: batch, shuffle: train, dropLast: train && dataset.count > batch,
                                                     workers: options.workers, lenient: options.skipBadImages, seed: options.seed))
    }

    static func targets(_ batch: Batch) -> [DETRTarget] {
        batch.targets.map { DETRTarget(labels: $0.labels, boxes: Tensor($0.boxes, shape: [$0.labels.count, 4])) }
    }

    // MARK: schedule

    /// The learning rate of an epoch (reference get_lr_scheduler over `epochs`).
    public func learningRate(epoch: Int) -> Float {
        let n = options.epochs
        switch options.schedule {
        case "step":
            let steps = 10
            let gamma = Foundation.pow(options.minLr / options.lr, 1 / Float(steps - 1))
            return LRSchedule.step(base: options.lr, stepSize: max(1, n / steps), gamma: gamma).rate(at: epoch)
        case "constant":
            return options.lr
        default:
            let warmup = min(max(Int(0.05 * Double(n)), 1), 3)
            let noAug = min(max(Int(0.05 * Double(n)), 1), 15)
            return LRSchedule.cosine(base: options.lr, minLR: options.minLr, totalIters: n, warmupIters: warmup,
                                     warmupStartLR: max(0.1 * options.lr, 1e-6), noAugIters: noAug).rate(at: epoch)
        }
    }

    func inFreezePhase(_ epoch: Int) -> Bool {
        options.freezeTrain && pretrained && epoch < options.freezeEpochs
    }

    // MARK: the loop

    /// Trains from the start (or resumed) epoch to `options.epochs`.
    public func run() throws -> TrainResult {
        try FileIO.makeDirectories(runDirectory)
        try writeText(String(decoding: try options.encodedJSON(), as: UTF8.self) + "\n", to: FileIO.join(runDirectory, "config.json"))
        let clock = Date()
        var lastEpochSeconds: Double?
        var stoppedEarly: String?
        for epoch in startEpoch..<options.epochs {
            if let limit = options.timeLimit, let last = lastEpochSeconds,
               Date().timeIntervalSince(clock) + last > limit {
                stoppedEarly = String(format: "time limit %.0f s: stopped after epoch %d of %d", limit, epoch, options.epochs)
                reporter.note(stoppedEarly!)
                break
            }
            let start = Date()
            var record = try trainEpoch(epoch)
            if let val = valSet {
                record.valLoss = try validationLoss(val, batch: inFreezePhase(epoch) ? options.freezeBatch : options.batch)
            }
            let isLast = epoch + 1 == options.epochs
            if let val = valSet, (epoch + 1) % options.evalPeriod == 0 || isLast {
                let (ap50, map) = try evaluate(val)
                record.ap50 = ap50
                record.map = map
            }
            record.seconds = Date().timeIntervalSince(start)
            record.elapsed = Date().timeIntervalSince(clock)
            try finishEpoch(&record, isLast: isLast)
            lastEpochSeconds = record.seconds
            records.append(record)
            reporter.epochEnded(record)
        }
        return TrainResult(runDirectory: runDirectory, records: records, stoppedEarly: stoppedEarly)
    }

    func trainEpoch(_ epoch: Int) throws -> EpochRecord {
        let frozen = inFreezePhase(epoch)
        for t in backboneTrainable { t.requiresGrad = !frozen }
        let batchSize = frozen ? options.freezeBatch : options.batch
        let lr = learningRate(epoch: epoch)
        optimizer.setLearningRate(lr)
        let loader = try loader(trainSet, batch: batchSize, train: true)
        let iterations = loader.batchCount
        let it = loader.epoch(epoch)
        var lossSum = 0.0, images = 0
        var termSums: [String: Double] = [:]
        var termNames: [String] = []
        let start = Date()
        var iteration = 0
        let params = bundle.network.parameters()
        while let batch = try it.next() {
            optimizer.zeroGrad()
            var ctx = ForwardContext(training: true, rng: SplitMix64(seed: options.seed ^ (UInt64(step + 1) &* 0x9E37_79B9_7F4A_7C15)))
            let out = bundle.network(images: batch.images.tensors, mask: batch.images.mask, &ctx)
            // Non-finite outputs would stop the matcher first: report them as the loss they lead to.
            let finite = Self.allFinite(out.logits) && Self.allFinite(out.boxes)
            let losses = finite ? try criterion(out, Self.targets(batch)) : nil
            let value = losses?.total.item ?? .nan
            guard value.isFinite, let losses else {
                throw TrainError.nonFiniteLoss(epoch: epoch, iteration: iteration, step: step, value: value, checkpoint: lastCheckpoint)
            }
            losses.total.backward()
            if options.clip > 0 { _ = clipGradNorm(params, maxNorm: options.clip) }
            optimizer.step()
            step += 1
            let n = batch.targets.count
            images += n
            lossSum += Double(value) * Double(n)
            termNames = losses.terms.map { Self.shortName($0.name) }
            for term in losses.terms {
                termSums[Self.shortName(term.name), default: 0] += Double(term.value.item) * Double(n)
            }
            iteration += 1
            let elapsed = Date().timeIntervalSince(start)
            let rate = Double(images) / max(elapsed, 1e-9)
            let eta = elapsed / Double(iteration) * Double(max(iterations - iteration, 0))
            let terms = losses.terms.map { t in String(format: "%@ %.3f", Self.shortName(t.name), termSums[Self.shortName(t.name)]! / Double(images)) }
            let status = String(format: "loss %.3f (%@) lr %.1e %.1f img/s ETA %@", lossSum / Double(images), terms.joined(separator: " "),
                                lr, rate, Self.duration(eta))
            reporter.progress(epoch, iteration, iterations, status)
        }
        let trainSeconds = Date().timeIntervalSince(start)
        guard images > 0 else { throw TrainError.noSamples("epoch \(epoch + 1)") }
        return EpochRecord(epoch: epoch, trainLoss: lossSum / Double(images), valLoss: nil,
                           terms: termSums.mapValues { $0 / Double(images) }, termNames: termNames, learningRate: lr, seconds: 0,
                           trainSeconds: trainSeconds, images: images, skipped: it.skipped.count, ap50: nil, map: nil, savedBest: false)
    }

    /// A loss term's name without DETR's `loss_` prefix (`ce`, `bbox`, `giou`).
    public static func shortName(_ name: String) -> String { name.hasPrefix("loss_") ? String(name.dropFirst(5)) : name }

    static func allFinite(_ t: Tensor) -> Bool {
        let p = t.data
        for i in 0..<t.count where !p[i].isFinite { return false }
        return true
    }

    static func duration(_ s: Double) -> String {
        guard s.isFinite else { return "?" }
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
    }

    /// Mean total loss over the validation set (inference mode: running batch-norm statistics, no dropout).
    public func validationLoss(_ dataset: any DetectionDataset, batch: Int) throws -> Double {
        let loader = try loader(dataset, batch: batch, train: false)
        let it = loader.epoch(0)
        var sum = 0.0, n = 0
        try withNoGrad {
            while let b = try it.next() {
                var ctx = ForwardContext.inference
                let out = bundle.network(images: b.images.tensors, mask: b.images.mask, &ctx)
                let losses = try criterion(out, Self.targets(b))
                sum += Double(losses.total.item) * Double(b.targets.count)
                n += b.targets.count
            }
        }
        return n > 0 ? sum / Double(n) : .nan
    }

    /// COCO AP50 and AP (0.5:0.95) of the network on a data set (ground truth at the original
    /// image size; detections above 0.001, as the reference collects them).
    public func evaluate(_ dataset: any DetectionDataset) throws -> (ap50: Double, map: Double) {
        try Self.evaluate(bundle: bundle, dataset: dataset)
    }

    public static func evaluate(bundle: ModelBundle, dataset: any DetectionDataset,
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

    // MARK: logs and checkpoints

    func finishEpoch(_ record: inout EpochRecord, isLast: Bool) throws {
        let epochNo = record.epoch + 1
        let monitored = record.valLoss ?? record.trainLoss
        if monitored.isFinite, bestLoss == nil || monitored < bestLoss! {
            bestLoss = monitored
            record.savedBest = true
        }
        bundle.state.epoch = epochNo
        bundle.state.step = step
        bundle.state.trainLoss = record.trainLoss
        bundle.state.valLoss = record.valLoss
        bundle.state.bestValLoss = bestLoss
        let optState = optimizer.stateTensors()
        let dir = runDirectory
        try appendLine(String(format: "%.6f", record.trainLoss), to: FileIO.join(dir, "epoch_loss.txt"))
        if let v = record.valLoss { try appendLine(String(format: "%.6f", v), to: FileIO.join(dir, "epoch_val_loss.txt")) }
        if let ap = record.ap50 { try appendLine(String(format: "%.6f", ap), to: FileIO.join(dir, "epoch_map.txt")) }
        try appendLine(try record.jsonLine(), to: FileIO.join(dir, "epochs.jsonl"))
        if record.savedBest {
            try bundle.save(to: FileIO.join(dir, "best"), optimizer: optState)
            try link(FileIO.join(options.saveDir, "best"), to: "best")
        }
        if epochNo % options.savePeriod == 0 || isLast {
            let name = String(format: "ep%03d-loss%.3f-val_loss%.3f", epochNo, record.trainLoss, record.valLoss ?? .nan)
            try bundle.save(to: FileIO.join(dir, name), optimizer: optState)
        }
        try bundle.save(to: FileIO.join(dir, "last"), optimizer: optState)
        lastCheckpoint = FileIO.join(dir, "last")
        try link(FileIO.join(options.saveDir, "last"), to: "last")
        try writePlots()
    }

    func appendLine(_ line: String, to path: String) throws {
        let old = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        try writeText(old + line + "\n", to: path)
    }

    /// Points `linkPath` (logs/best, logs/last) at `<run>/<name>`, replacing an older link atomically.
    func link(_ linkPath: String, to name: String) throws {
        let runName = URL(fileURLWithPath: runDirectory).lastPathComponent
        let target = runName + "/" + name
        let tmp = linkPath + ".tmp-\(getpid())"
        try? FileManager.default.removeItem(atPath: tmp)
        guard symlink(target, tmp) == 0, rename(tmp, linkPath) == 0 else {
            throw DatasetError.unwritableFile(path: linkPath, reason: String(cString: strerror(errno)))
        }
    }

    /// epoch_loss.png (train and val loss) and epoch_map.png (AP50 per evaluation) from the
    /// run's text files, so that a resumed run plots its whole history.
    func writePlots() throws {
        let dir = runDirectory
        func values(_ name: String) -> [Double] {
            ((try? String(contentsOfFile: FileIO.join(dir, name), encoding: .utf8)) ?? "")
                .split(separator: "\n").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        }
        let train = values("epoch_loss.txt"), val = values("epoch_val_loss.txt")
        let first = Double(options.initEpoch + 1)
        var curves = [Curve(label: "train loss", x: train.indices.map { first + Double($0) }, y: train, color: .red)]
        if !val.isEmpty { curves.append(Curve(label: "val loss", x: val.indices.map { first + Double($0) }, y: val, color: .tab10Blue)) }
        try CurvePlot.write(curves, title: "Loss", xLabel: "Epoch", yLabel: "Loss", to: FileIO.join(dir, "epoch_loss.png"))
        let maps = values("epoch_map.txt")
        if !maps.isEmpty {
            // Evaluations happen every eval period and at the last epoch.
            var xs: [Double] = []
            var e = options.initEpoch
            while xs.count < maps.count && e < options.epochs + 1000 {
                e += 1
                if e % options.evalPeriod == 0 || e == options.epochs { xs.append(Double(e)) }
            }
            try CurvePlot.write([Curve(label: "AP50", x: xs, y: maps, color: .red)], title: "COCO AP50 on the validation set",
                                xLabel: "Epoch", yLabel: "AP50", to: FileIO.join(dir, "epoch_map.png"))
        }
    }
}
