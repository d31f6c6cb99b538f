import Augment
import Base
import Datasets
import Foundation
import Model
import NN
import Plots
import Tensor
import ToolSupport

/// The training loop of the reference train.py over this package's pieces: the data
/// (`TrainingData`: data set and loader from Augment), DETR-family networks with their set
/// criterion (Model), AdamW or SGD with a per-epoch schedule (`TrainingSchedule`) and gradient
/// clipping (NN), validation loss and COCO evaluation (`Validation`), and the logs folder
/// (`RunFolder`: `logs/<timestamp>/` with `best/`, `last/`, periodic checkpoints, loss and mAP
/// text files and plots; `logs/best` and `logs/last` link to the newest run's). A run starts
/// fresh, from pretrained weights (`PretrainedWeights`), or resumes a checkpoint (`ResumeCheckpoint`).
///
/// Under `mpirun` (a `ProcessWorld`) the processes train one model data-parallel: each takes
/// its consecutive share of every global batch (`--batch` is the global batch), pads it to the
/// global batch's shape, normalises the losses by the global batch's counts, synchronises the
/// trainable batch norms and draws the dropout masks per sample; the gradients are summed over
/// the processes (`DataParallelSteps`) before clipping and the optimizer step, so every process
/// computes the step a single process would. Validation and COCO AP run on shards of the
/// validation set and are gathered; rank 0 alone writes the logs, plots and checkpoints.
public final class Trainer {
    public let options: TrainOptions
    public let bundle: ModelBundle
    public let trainSet: any DetectionDataset
    public let valSet: (any DetectionDataset)?
    public let runDirectory: String
    /// The learning rate and freeze phase of each epoch.
    public let schedule: TrainingSchedule
    /// The validation loss and COCO AP of the network.
    public let validation: Validation
    let folder: RunFolder
    let optimizer: any Optimizer
    let criterion: any TrainingCriterion
    /// Backbone parameters that train in the unfreeze phase (frozen in the freeze phase).
    let backboneTrainable: [Tensor]
    var step = 0
    var startEpoch: Int
    var bestLoss: Double?
    var records: [EpochRecord] = []
    var lastCheckpoint: String?
    let reporter: TrainReporter
    /// The processes of a data-parallel run (nil: one process).
    public let world: ProcessWorld?
    /// Whether this process writes the run folder (rank 0, or the only process).
    var writes: Bool { world?.isMain ?? true }

    /// Sets up a run: reads and checks the data, builds (or loads) the network and optimizer.
    /// `resume` is a checkpoint folder written by a run (`logs/last`): its weights, optimizer
    /// state, epoch and run folder are taken up again, with the given options (start from
    /// `storedOptions(resume)` to continue the same run).
    public init(options given: TrainOptions, resume: String? = nil, reporter givenReporter: TrainReporter = TrainReporter(),
                world: ProcessWorld? = nil) throws {
        self.world = world
        // Rank 0 reports for the run; the other ranks would repeat it.
        let reporter = world.map { $0.isMain } ?? true ? givenReporter : TrainReporter()
        self.reporter = reporter
        var options = given
        let checkpoint = try resume.map(ResumeCheckpoint.init)
        if let checkpoint { options.classNames = checkpoint.state.classNames }
        if let threads = options.threads {
            Threads.count = threads
        } else if let world {
            // The processes on one host share its cores.
            Threads.count = max(1, Threads.cores / world.processesOnThisHost)
        }

        // Data first: class names may come from a COCO file.
        let data = try TrainingData(options: options, note: reporter.note)
        options.classNames = data.classNames
        options.config.numClasses = data.classNames.count
        options.thingClasses = data.thingClasses
        options.config = Self.maskSettings(options)
        let pretrained = options.weights != nil || options.backboneWeights != nil
        // A backbone trained from scratch needs batch norms that learn (see BackboneNorm).
        options.config.backboneNorm = pretrained ? .frozen : .trainable
        if let checkpoint { options.config = checkpoint.state.config }
        var problems = options.problems()
        if let world {
            problems += Self.dataParallelProblems(options, trainCount: data.train.count, processes: world.size, pretrained: pretrained)
        }
        guard problems.isEmpty else { throw TrainError.invalidOptions(problems) }
        self.options = options
        trainSet = data.train
        valSet = data.validation
        // A frozen DETR has no backbone phase to wait out: its mask head trains at --batch throughout.
        schedule = TrainingSchedule(options: options, pretrained: pretrained && !options.freezesDETR)

        // Network.
        let b = ModelBundle.fresh(config: options.config, classNames: data.classNames, inputSize: options.inputSize,
                                  preset: options.preset, seed: options.seed)
        if let checkpoint {
            try checkpoint.loadWeights(into: b)
        } else {
            if let w = options.weights {
                try PretrainedWeights.loadMatching(w, into: b, requiring: options.freezesDETR ? "detr." : nil, note: reporter.note)
            }
            if let w = options.backboneWeights { try PretrainedWeights.loadBackbone(w, into: b, note: reporter.note) }
        }
        if options.freezesDETR {
            let frozen = Self.frozenParameters(b.network, options)
            for t in frozen { t.requiresGrad = false }
            reporter.note("DETR frozen (\(frozen.count) tensors of detr.*): the mask head (bbox_attention.*, mask_head.*) trains")
        }
        b.state.training = options
        bundle = b
        (backboneTrainable, optimizer) = Self.makeOptimizer(b.network, options)
        var criterion = options.config.makeTrainingCriterion()
        validation = Validation(bundle: b, criterion: criterion, options: options, world: world)
        if let world {
            criterion.globalSum = { world.sum(&$0) }
            world.synchroniseBatchNorms()
        }
        self.criterion = criterion

        if let checkpoint {
            try checkpoint.loadOptimizer(into: optimizer)
            startEpoch = checkpoint.state.epoch
            step = checkpoint.state.step
            bestLoss = checkpoint.state.bestValLoss
            runDirectory = checkpoint.state.runDirectory ?? RunFolder.of(checkpoint: checkpoint.path)
            lastCheckpoint = checkpoint.path
            reporter.note("resuming \(runDirectory) at epoch \(startEpoch + 1) (step \(step))")
        } else {
            startEpoch = options.initEpoch
            // Rank 0 names the run folder; the others take its name.
            let path = RunFolder.newPath(in: options.saveDir)
            runDirectory = world.map { String(decoding: $0.broadcast(Array(path.utf8)), as: UTF8.self) } ?? path
        }
        folder = RunFolder(path: runDirectory, options: options)
        if checkpoint != nil && writes { try folder.keepLogs(throughEpoch: startEpoch) }
        bundle.state.runDirectory = runDirectory
    }

    /// The config with what the data decides for mask models: DETR trains its segmentation head
    /// with `masks`; both keep their task and thing classes for inference.
    static func maskSettings(_ options: TrainOptions) -> ModelConfig {
        if options.masks, var c = options.config.as(DETRConfig.self) {
            c.maskHead = true
            c.task = options.effectiveTask == .panoptic ? .panoptic : nil
            c.thingClasses = options.thingClasses
            return ModelConfig(c)
        }
        if var c = options.config.as(Mask2FormerConfig.self) {
            c.task = options.effectiveTask ?? .instance
            c.thingClasses = options.thingClasses
            return ModelConfig(c)
        }
        return options.config
    }

    /// The training options a checkpoint of a run was written with.
    public static func storedOptions(_ checkpoint: String) throws -> TrainOptions {
        try ResumeCheckpoint.storedOptions(checkpoint)
    }

    /// The optimizer over every parameter that may train, the backbone in its own group at the
    /// backbone ratio (returned too: the freeze phase switches it off). Parameters frozen for a
    /// phase keep their slots (no gradient: no update); those frozen for the whole run
    /// (`frozenParameters`) are left out, as the official code builds its optimizer from the
    /// parameters that require gradients (a resume builds the same list).
    static func makeOptimizer(_ network: any DetectionNetwork, _ options: TrainOptions) -> (backbone: [Tensor], optimizer: any Optimizer) {
        let frozen = Set(frozenParameters(network, options).map(ObjectIdentifier.init))
        let params = network.namedParameters().filter { !frozen.contains(ObjectIdentifier($0.tensor)) }
        let isBackbone: (String) -> Bool = { $0.hasPrefix("backbone.") || $0.hasPrefix("detr.backbone.") }
        let backbone = params.filter { isBackbone($0.key) }.map(\.tensor)
        let rest = params.filter { !isBackbone($0.key) }.map(\.tensor)
        let groups = [ParameterGroup(parameters: rest, learningRate: options.lr, weightDecay: options.weightDecay),
                      ParameterGroup(parameters: backbone, learningRate: options.lr * options.backboneLrRatio,
                                     weightDecay: options.weightDecay, lrScale: options.backboneLrRatio)]
        return (backbone, options.optimizer.make(groups: groups, momentum: options.momentum))
    }

    /// The parameters frozen for the whole run: DETR's (`detr.*`) when its segmentation head
    /// trains on a box checkpoint (`TrainOptions.freezesDETR`, the official `--frozen_weights`).
    static func frozenParameters(_ network: any DetectionNetwork, _ options: TrainOptions) -> [Tensor] {
        guard options.freezesDETR else { return [] }
        return network.namedState(kind: .parameter).filter { $0.key.hasPrefix("detr.") }.map(\.tensor)
    }

    /// What a data-parallel run over `processes` needs: batches that divide into equal shares,
    /// at least one training sample per process.
    static func dataParallelProblems(_ options: TrainOptions, trainCount: Int, processes: Int, pretrained: Bool) -> [String] {
        var out: [String] = []
        if options.batch % processes != 0 {
            out.append("--batch \(options.batch) (the global batch) is not divisible by the \(processes) processes of the run")
        }
        if pretrained && options.freezeEpochs > 0 && options.freezeBatch % processes != 0 {
            out.append("--freeze-batch \(options.freezeBatch) (the global batch) is not divisible by the \(processes) processes of the run")
        }
        if trainCount < processes { out.append("\(trainCount) training samples for \(processes) processes") }
        return out
    }

    // MARK: the loop

    /// Trains from the start (or resumed) epoch to `options.epochs`.
    public func run() throws -> TrainResult {
        if writes { try folder.start(options) }
        let clock = Date()
        var lastEpochSeconds: Double?
        var stoppedEarly: String?
        for epoch in startEpoch..<options.epochs {
            if let limit = options.timeLimit, let last = lastEpochSeconds,
               Self.anyProcess(world, Date().timeIntervalSince(clock) + last > limit) {
                stoppedEarly = String(format: "time limit %.0f s: stopped after epoch %d of %d", limit, epoch, options.epochs)
                reporter.note(stoppedEarly!)
                break
            }
            let start = Date()
            var record = try trainEpoch(epoch)
            if let val = valSet {
                record.valLoss = try validation.loss(val, batch: schedule.batchSize(epoch: epoch))
            }
            let isLast = epoch + 1 == options.epochs
            if let val = valSet, (epoch + 1) % options.evalPeriod == 0 || isLast {
                let values = try validation.metric(val)
                record.ap50 = values.first
                record.map = values.count > 1 ? values[1] : nil
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
        let frozen = schedule.inFreezePhase(epoch)
        for t in backboneTrainable { t.requiresGrad = !frozen }
        let lr = schedule.learningRate(epoch: epoch)
        optimizer.setLearningRate(lr)
        // Data-parallel: a sample that fails to load stops the run (skipping it could leave a
        // rank's share empty, and that rank a batch behind the others).
        var loaderOptions = options
        if world != nil { loaderOptions.skipBadImages = false }
        let loader = try TrainingData.loader(trainSet, batch: schedule.batchSize(epoch: epoch), train: true, options: loaderOptions,
                                             shard: world.map { ($0.rank, $0.size) })
        let iterations = loader.batchCount
        let it = loader.epoch(epoch)
        var lossSum = 0.0, images = 0
        var termSums: [String: Double] = [:]
        var termNames: [String] = []
        let start = Date()
        var iteration = 0
        let params = bundle.network.parameters()
        let steps = world.map { DataParallelSteps(world: $0) }
        while var batch = try it.next() {
            optimizer.zeroGrad()
            // Each process pads its share to the global batch's shape.
            if let steps { batch = steps.paddedToGlobalShape(batch) }
            var ctx = ForwardContext(training: true, rng: SplitMix64(seed: options.seed ^ (UInt64(step + 1) &* 0x9E37_79B9_7F4A_7C15)),
                                     sampleOffset: batch.offset)
            let out = bundle.network(images: batch.images.tensors, mask: batch.images.mask, &ctx)
            // Non-finite outputs would stop the matcher first: report them as the loss they lead to.
            var finite = Self.allFinite(out.logits) && Self.allFinite(out.boxes) && out.masks.map(Self.allFinite) ?? true
            if let steps { finite = steps.all(finite) }
            // A criterion that samples (Mask2Former's points) draws from the step's own seed, and
            // each process of a data-parallel run from its own (the draws then differ from one
            // process's: such a run is equivalent in distribution, not to the digit).
            let lossSeed = options.seed ^ (UInt64(step + 1) &* 0xD1B5_4A32_D192_ED03) ^ (UInt64(batch.offset) &* 0x94D0_49BB_1331_11EB)
            let losses = finite ? try criterion.trainingLosses(out, TrainingData.targets(batch), seed: lossSeed) : nil
            // The batch's loss and terms (summed over the processes: each holds its share).
            var logged = [Double(losses?.total.item ?? .nan)] + (losses?.terms.map { Double($0.value.item) } ?? [])
            var n = batch.targets.count
            if let steps { (logged, n) = steps.batchTotals(logged, count: n) }
            let value = Float(logged[0])
            guard value.isFinite, let losses else {
                throw TrainError.nonFiniteLoss(epoch: epoch, iteration: iteration, step: step, value: value, checkpoint: lastCheckpoint)
            }
            // A frozen DETR with no matched mask has nothing to learn from the batch.
            if losses.total.requiresGrad { losses.total.backward() }
            steps?.sumGradients(params)
            if options.clip > 0 { _ = clipGradNorm(params, maxNorm: options.clip) }
            optimizer.step()
            step += 1
            images += n
            lossSum += Double(value) * Double(n)
            termNames = losses.terms.map { Self.shortName($0.name) }
            for (k, term) in losses.terms.enumerated() {
                termSums[Self.shortName(term.name), default: 0] += Double(Float(logged[k + 1])) * Double(n)
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
        if let steps, iteration > 0 {
            let perStep = 1000 / Double(iteration)
            reporter.note(String(format: "%d processes: gradient allreduce %.1f ms per step for %.1f MB (%.0f%% of the training time), "
                                 + "and %.1f ms per step waiting for the slowest process", steps.world.size, steps.allreduceSeconds * perStep,
                                 Double(steps.allreduceBytes) / Double(iteration) / 1e6, 100 * steps.allreduceSeconds / max(trainSeconds, 1e-9),
                                 steps.waitSeconds * perStep))
        }
        guard images > 0 else { throw TrainError.noSamples("epoch \(epoch + 1)") }
        return EpochRecord(epoch: epoch, trainLoss: lossSum / Double(images), valLoss: nil,
                           terms: termSums.mapValues { $0 / Double(images) }, termNames: termNames, learningRate: lr, seconds: 0,
                           trainSeconds: trainSeconds, images: images, skipped: it.skipped.count, ap50: nil, map: nil,
                           metric: validation.metricKind, savedBest: false)
    }

    /// Whether `flag` holds on some process (every process takes the same decision).
    static func anyProcess(_ world: ProcessWorld?, _ flag: Bool) -> Bool {
        guard let world else { return flag }
        var v = [flag ? 1.0 : 0.0]
        world.max(&v)
        return v[0] > 0
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

    // MARK: logs and checkpoints

    /// Keeps the best loss (validation, else training), then writes the epoch's logs, its
    /// checkpoints (`best/` when it improved, a numbered one every `savePeriod` epochs and at the
    /// last, `last/` always), the links and the plots.
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
        guard writes else { return }
        let optState = optimizer.stateTensors()
        try folder.log(record)
        if record.savedBest {
            try folder.save(bundle, as: "best", optimizer: optState)
            try folder.link("best")
        }
        if epochNo % options.savePeriod == 0 || isLast {
            try folder.save(bundle, as: RunFolder.checkpointName(record), optimizer: optState)
        }
        lastCheckpoint = try folder.save(bundle, as: "last", optimizer: optState)
        try folder.link("last")
        try folder.writePlots()
    }
}
