import ArgumentParser
import Base
import Datasets
import Foundation
import Pipeline
import ToolSupport

/// `detr-train`: the reference train.py with flags for its constants. The flags come in groups
/// (data, network, optimisation, run), each mapping its flags onto `TrainOptions` once.
struct DETRTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detr-train",
        abstract: "Train a DETR-family model (DETR, Conditional DETR, with Group DETR query groups; DETR's segmentation head; Mask2Former) on annotation lines (2007_train.txt), a COCO instances file or COCO panoptic data.",
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
        Several processes (mpirun -np N detr-train ..., Open MPI; one machine or a hostfile): \
        one model trained data-parallel, --batch the global batch (divisible by N), each process \
        its share of every batch; rank 0 writes the logs and checkpoints. See the README.
        Masks: --masks trains DETR's segmentation head as the DETR paper does: first a box \
        model (an ordinary run of --model detr), then --masks --weights <its checkpoint> \
        (logs/best, a model.safetensors or the official .pth: its tensors become the detr.* \
        part) with the same architecture flags. The DETR part is then frozen (the official \
        --frozen_weights: its parameters get no gradient and are not in the optimizer; there is \
        no freeze phase) and only the mask head (bbox_attention, mask_head) trains, with focal \
        and dice losses on its masks; the class and box losses are still computed and logged. \
        Panoptic data (--coco-panoptic) gives a checkpoint whose results are panoptic segments \
        (its stuff classes kept with it). \
        --model mask2former trains on masks directly, for --task instance, panoptic \
        (--coco-panoptic) or semantic (a VOC devkit's lines: SegmentationClass PNGs). Mask models \
        validate with COCO mask AP (instance), PQ (panoptic) or mIoU (semantic).
        Bad list entries: a missing or unreadable image is skipped and counted (--strict-images: \
        an error), boxes reaching outside their image are clipped (counted), a class id outside \
        the classes file is an error naming the image.
        """)

    @OptionGroup(title: "Data") var data: DataOptions
    @OptionGroup(title: "Network") var network: ArchitectureOptions
    @OptionGroup(title: "Phases, optimizer and schedule") var optimization: OptimizationOptions
    @OptionGroup(title: "Run") var runOptions: RunOptions

    /// The run's options: the stored ones of the resumed run (with the flags a resume may
    /// change), or every group's flags.
    func options() throws -> TrainOptions {
        if let resume = runOptions.resume {
            var o = try Trainer.storedOptions(resume)
            runOptions.applyResumable(to: &o)
            return o
        }
        guard data.hasTrainingData else {
            throw ToolError("give a training lines file (2007_train.txt), --coco FILE --images DIR or --coco-panoptic FILE --images DIR")
        }
        var o = TrainOptions()
        try data.apply(to: &o)
        try network.apply(to: &o)
        optimization.apply(to: &o)
        runOptions.apply(to: &o)
        return o
    }

    /// The processes of an mpirun run (nil: one process), set up before the flags are parsed.
    nonisolated(unsafe) static var world: ProcessWorld?

    func run() throws {
        let world = Self.world
        try runReporting {
            do { try train(world: world) } catch {
                // A failing rank stops every process, naming itself (the others would wait in a collective).
                world?.abort("detr-train: \((error as? ToolError)?.message ?? "\(error)")")
                throw error
            }
        }
        world?.finalize()
    }

    func train(world: ProcessWorld?) throws {
        let say: (String) -> Void = { line in if world?.isMain ?? true { ToolIO.say(line) } }
        let opts = try options()
        let trainer = try Trainer(options: opts, resume: runOptions.resume, reporter: TrainConsole.reporter(epochs: opts.epochs),
                                  world: world)
        let p = trainer.bundle.network.parameterCount
        let o = trainer.options
        say("detr-train: \(trainer.trainSet.count) training images\(trainer.valSet.map { ", \($0.count) validation images" } ?? ""), "
                   + "\(o.classNames.count) classes, \(o.config.family)\(o.config.groups > 1 ? " with \(o.config.groups) query groups" : ""), \(o.config.backbone) backbone (\(o.config.backboneNorm) batch norm), "
                   + String(format: "%.1fM parameters, ", Double(p) / 1e6) + "run folder \(trainer.runDirectory)"
            + (world.map { ", \($0.size) processes (mpirun)" } ?? ""))
        let result = try trainer.run()
        say("detr-train: checkpoints in \(result.runDirectory) (best: \(FileIO.join(opts.saveDir, "best")), last: \(FileIO.join(opts.saveDir, "last")))")
    }
}

@main
enum DETRTrainMain {
    static func main() {
        ProcessSetup.preferPassiveOpenMPThreads()
        do {
            DETRTrain.world = try ProcessWorld.launched()
        } catch {
            ToolIO.printError("detr-train: started by mpirun, but \(error)")
            exit(1)
        }
        DETRTrain.main()
    }
}
