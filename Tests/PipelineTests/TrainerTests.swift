import Datasets
import Foundation
import Model
import NN
import Pipeline
import Tensor
import TestSupport
import XCTest

final class TrainerTests: XCTestCase {
    /// Two epochs in one go, or one epoch, an interruption and a resume: the same weights,
    /// optimizer state and logs (same seed; dropout, shuffling and augmentation included).
    func testResumeGivesTheSameWeights() throws {
        try checkResume("resume") { _ in }
    }

    /// The same for Conditional DETR with query groups (flips on): the family, its config and
    /// all K*Q query rows travel through the checkpoint; evaluation runs group 0.
    func testResume_ConditionalDETRWithGroups() throws {
        try checkResume("resume-cond") { o in
            o.config = ModelConfig(TinyConfig.conditionalDETR(queries: 5, decoderLayers: 1, groups: 3, dropout: 0.1))
            o.preset = .flip
        }
    }

    func checkResume(_ label: String, _ configure: (inout TrainOptions) -> Void) throws {
        let dir = try makeTemporaryDirectory(label)
        let data = try ShapesFixture.make(in: dir + "/data", count: 4, side: 64, seed: 11)
        var o = tinyTrainOptions(lines: data.lines, saveDir: dir + "/a")
        o.valList = data.lines
        configure(&o)
        let a = try Trainer(options: o).run()
        XCTAssertEqual(a.records.count, 2)

        // Interrupted after its first epoch (the time limit ends it before the second).
        o.saveDir = dir + "/b"
        o.timeLimit = 1e-6
        let b1 = try Trainer(options: o).run()
        XCTAssertEqual(b1.records.count, 1)
        XCTAssertNotNil(b1.stoppedEarly)
        var resumed = try Trainer.storedOptions(dir + "/b/last")
        XCTAssertEqual(resumed.timeLimit, 1e-6)
        resumed.timeLimit = nil
        let b2 = try Trainer(options: resumed, resume: dir + "/b/last").run()
        XCTAssertEqual(b2.records.map(\.epoch), [1])
        XCTAssertEqual(b2.runDirectory, b1.runDirectory)

        let wa = try Checkpoint.load(from: dir + "/a/last"), wb = try Checkpoint.load(from: dir + "/b/last")
        XCTAssertEqual(Set(wa.model.keys), Set(wb.model.keys))
        for (k, t) in wa.model { XCTAssertEqual(t.scalars, wb.model[k]!.scalars, k) }
        for (k, t) in wa.optimizer! { XCTAssertEqual(t.scalars, wb.optimizer![k]!.scalars, k) }
        XCTAssertEqual(a.records[1].trainLoss, b2.records[0].trainLoss)
        // The resumed run appended to the same logs.
        let losses = try String(contentsOfFile: b1.runDirectory + "/epoch_loss.txt", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(losses.count, 2)
        let state = try JSONDecoder().decode(CheckpointState.self, from: wb.state)
        XCTAssertEqual(state.epoch, 2)
        XCTAssertEqual(state.step, 4)
        XCTAssertEqual(state.config, o.config.with(numClasses: DemoData.classNames.count, backboneNorm: .trainable))
        XCTAssertNotNil(a.records[1].ap50)
    }

    /// The logs folder of a run: checkpoints, text files, plots and the links.
    func testRunFolderLayout() throws {
        let dir = try makeTemporaryDirectory("layout")
        let data = try ShapesFixture.make(in: dir + "/data", count: 4, side: 64, seed: 3)
        var o = tinyTrainOptions(lines: data.lines, saveDir: dir + "/logs")
        o.valList = data.lines
        o.savePeriod = 2
        let r = try Trainer(options: o).run()
        let fm = FileManager.default
        let names = try fm.contentsOfDirectory(atPath: r.runDirectory)
        for f in ["best", "last", "config.json", "epoch_loss.txt", "epoch_val_loss.txt", "epoch_map.txt", "epoch_loss.png", "epoch_map.png"] {
            XCTAssertTrue(names.contains(f), "\(f) missing in \(names)")
        }
        let periodic = names.filter { $0.hasPrefix("ep002-loss") }
        XCTAssertEqual(periodic.count, 1, "\(names)")
        let expected = String(format: "ep002-loss%.3f-val_loss%.3f", r.records[1].trainLoss, r.records[1].valLoss!)
        XCTAssertEqual(periodic.first, expected)
        for f in ["model.safetensors", "optimizer.safetensors", "state.json"] {
            XCTAssertTrue(fm.fileExists(atPath: r.runDirectory + "/last/" + f))
        }
        let run = URL(fileURLWithPath: r.runDirectory).lastPathComponent
        XCTAssertEqual(try fm.destinationOfSymbolicLink(atPath: dir + "/logs/last"), run + "/last")
        XCTAssertEqual(try fm.destinationOfSymbolicLink(atPath: dir + "/logs/best"), run + "/best")
        // best/ holds the epoch with the lowest validation loss.
        let best = try ModelBundle.load(dir + "/logs/best")
        XCTAssertEqual(best.state.valLoss, r.records.compactMap(\.valLoss).min())
        XCTAssertEqual(best.state.config.backboneNorm, .trainable, "a backbone trained from scratch needs trainable batch norm")
        let maps = try String(contentsOfFile: r.runDirectory + "/epoch_map.txt", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(maps.count, 2)
        XCTAssertEqual(Double(maps[1])!, r.records[1].ap50!, accuracy: 1e-6)
        // The image of each plot decodes.
        XCTAssertEqual(try ImageIO.load(r.runDirectory + "/epoch_loss.png").width, 640)
    }

    /// Bad lists: a missing image and a box outside its image are counted and handled, an
    /// empty line is ignored, an unknown class id is an error naming the list and the image.
    func testBadListEntries() throws {
        let dir = try makeTemporaryDirectory("badlist")
        let data = try ShapesFixture.make(in: dir + "/data", count: 3, side: 64, seed: 5)
        let good = try String(contentsOfFile: data.lines, encoding: .utf8).split(separator: "\n").map(String.init)
        let list = dir + "/list.txt"
        try (good + ["", dir + "/data/missing.jpg 1,1,10,10,0", data.annotations[0].path + " 50,50,90,70,1"])
            .joined(separator: "\n").write(toFile: list, atomically: true, encoding: .utf8)
        var notes: [String] = []
        var o = tinyTrainOptions(lines: list, saveDir: dir + "/logs")
        o.epochs = 1
        let trainer = try Trainer(options: o, reporter: TrainReporter(note: { notes.append($0) }))
        XCTAssertEqual(trainer.trainSet.count, 4)
        XCTAssertTrue(notes.contains { $0.contains("skipped 1 of 5") && $0.contains("missing.jpg") }, "\(notes)")
        XCTAssertTrue(notes.contains { $0.contains("1 boxes reach outside") }, "\(notes)")
        let last = try trainer.trainSet.sample(at: 3)
        XCTAssertEqual(last.target.boxes.map(\.x2), [64])

        o.skipBadImages = false
        XCTAssertThrowsError(try Trainer(options: o)) { e in XCTAssertTrue("\(e)".contains("missing.jpg"), "\(e)") }

        try (good + [data.annotations[1].path + " 1,1,10,10,3"]).joined(separator: "\n").write(toFile: list, atomically: true, encoding: .utf8)
        o.skipBadImages = true
        XCTAssertThrowsError(try Trainer(options: o)) { e in
            let s = "\(e)"
            XCTAssertTrue(s.contains(list) && s.contains(data.annotations[1].path) && s.contains("class id 3"), s)
        }
    }

    /// A loss that stops being finite ends the run with a message naming the iteration.
    func testNonFiniteLossStops() throws {
        let dir = try makeTemporaryDirectory("nan")
        let data = try ShapesFixture.make(in: dir + "/data", count: 4, side: 64, seed: 9)
        var o = tinyTrainOptions(lines: data.lines, saveDir: dir + "/logs")
        o.lr = 1e30
        o.minLr = 0
        o.schedule = .constant
        o.clip = 0
        XCTAssertThrowsError(try Trainer(options: o).run()) { e in
            guard case let TrainError.nonFiniteLoss(epoch, iteration, _, _, checkpoint) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(epoch, 0)
            XCTAssertGreaterThan(iteration, 0)
            XCTAssertNil(checkpoint)
            XCTAssertTrue("\(e)".contains("iteration \(iteration + 1)"), "\(e)")
        }
    }

    /// Starting from a checkpoint of another class count keeps everything but the class head.
    func testWeightsOfAnotherClassCount() throws {
        let dir = try makeTemporaryDirectory("weights")
        let data = try ShapesFixture.make(in: dir + "/data", count: 2, side: 64, seed: 2)
        var o = tinyTrainOptions(lines: data.lines, saveDir: dir + "/logs")
        var c = o.config
        c.numClasses = 5
        let other = ModelBundle.fresh(config: c, classNames: ["a", "b", "c", "d", "e"], seed: 99)
        try other.save(to: dir + "/other")
        o.weights = dir + "/other"
        o.freezeEpochs = 1
        o.epochs = 1
        var notes: [String] = []
        let t = try Trainer(options: o, reporter: TrainReporter(note: { notes.append($0) }))
        XCTAssertTrue(notes.contains { $0.contains("class_embed.weight") }, "\(notes)")
        let mine = t.bundle.network.stateDict(), theirs = other.network.stateDict()
        XCTAssertEqual(mine["query_embed.weight"]!.scalars, theirs["query_embed.weight"]!.scalars)
        XCTAssertEqual(mine["class_embed.weight"]!.shape, [4, 32])
        XCTAssertEqual(t.bundle.config.backboneNorm, .frozen, "pretrained weights use frozen batch norm")
        _ = try t.run()

        // The same weights as an official-style PyTorch checkpoint ({"model": ..., "epoch": 3}).
        try TorchSave.legacy(theirs, wrapped: true).write(to: URL(fileURLWithPath: dir + "/other.pth"))
        o.weights = dir + "/other.pth"
        let fromPth = try Trainer(options: o).bundle.network.stateDict()
        XCTAssertEqual(fromPth["query_embed.weight"]!.scalars, theirs["query_embed.weight"]!.scalars)
    }
}

final class TrainerCOCOInputTests: XCTestCase {
    /// COCO instances input: classes from the categories in id order (ids not contiguous),
    /// crowd objects left out, one epoch with validation and evaluation.
    func testTrainsFromCOCOJSON() throws {
        let dir = try makeTemporaryDirectory("cocoinput")
        let data = try ShapesFixture.make(in: dir + "/images", count: 4, side: 64, seed: 4)
        let catIds = [9, 3, 7]  // listed out of order; label order is by id: 3, 7, 9
        let names = ["circle-9", "circle-3", "circle-7"]
        var images: [String] = [], anns: [String] = []
        for (i, a) in data.annotations.enumerated() {
            let file = URL(fileURLWithPath: a.path).lastPathComponent
            images.append("{\"id\": \(i + 10), \"width\": 64, \"height\": 64, \"file_name\": \"\(file)\"}")
            for (k, b) in a.boxes.enumerated() {
                let bx = b.box
                anns.append("{\"id\": \(anns.count + 1), \"image_id\": \(i + 10), \"category_id\": \(catIds[b.classId]), "
                            + "\"bbox\": [\(bx.xmin), \(bx.ymin), \(bx.xmax - bx.xmin), \(bx.ymax - bx.ymin)], "
                            + "\"area\": \((bx.xmax - bx.xmin) * (bx.ymax - bx.ymin)), \"iscrowd\": \(k == 0 && i == 0 ? 1 : 0)}")
            }
        }
        let cats = zip(catIds, names).map { "{\"id\": \($0.0), \"name\": \"\($0.1)\"}" }
        let json = "{\"images\": [\(images.joined(separator: ", "))], \"annotations\": [\(anns.joined(separator: ", "))], "
            + "\"categories\": [\(cats.joined(separator: ", "))]}"
        try json.write(toFile: dir + "/instances.json", atomically: true, encoding: .utf8)
        var o = tinyTrainOptions(lines: "", saveDir: dir + "/logs")
        o.trainList = nil
        o.classNames = []
        o.cocoTrain = dir + "/instances.json"
        o.cocoTrainImages = dir + "/images"
        o.cocoVal = dir + "/instances.json"
        o.cocoValImages = dir + "/images"
        o.epochs = 1
        let t = try Trainer(options: o)
        XCTAssertEqual(t.options.classNames, ["circle-3", "circle-7", "circle-9"])
        XCTAssertEqual(t.trainSet.count, 4)
        // The crowd object of the first image is not a training target.
        XCTAssertEqual(try t.trainSet.sample(at: 0).target.count, data.annotations[0].boxes.count - 1)
        let r = try t.run()
        XCTAssertNotNil(r.records[0].ap50)
        XCTAssertNotNil(r.records[0].valLoss)
    }
}

final class TrainerBackboneWeightsTests: XCTestCase {
    /// torchvision-named ResNet weights load into the backbone (which then uses frozen batch
    /// norm); a missing tensor is an error naming it and the file.
    func testBackboneWeights() throws {
        let dir = try makeTemporaryDirectory("backbone")
        let data = try ShapesFixture.make(in: dir + "/data", count: 2, side: 64, seed: 8)
        var o = tinyTrainOptions(lines: data.lines, saveDir: dir + "/logs")
        var c = o.config
        c.numClasses = 3
        c.backboneNorm = .frozen
        let donor = ModelBundle.fresh(config: c, classNames: DemoData.classNames, seed: 1234)
        let prefix = "backbone.0.body."
        var resnet: [String: Tensor] = [:]
        for (k, t) in donor.network.stateDict() where k.hasPrefix(prefix) { resnet[String(k.dropFirst(prefix.count))] = t }
        resnet["fc.weight"] = Tensor.zeros([10, 512])  // a classifier head is ignored
        try SafeTensors.write(resnet, to: dir + "/resnet18.safetensors")
        o.backboneWeights = dir + "/resnet18.safetensors"
        let t = try Trainer(options: o)
        XCTAssertEqual(t.bundle.config.backboneNorm, .frozen)
        let mine = t.bundle.network.stateDict()
        for (k, v) in resnet where k != "fc.weight" { XCTAssertEqual(mine[prefix + k]!.scalars, v.scalars, k) }

        // torchvision's ResNet weights as a .pth file.
        try TorchSave.legacy(resnet).write(to: URL(fileURLWithPath: dir + "/resnet18.pth"))
        o.backboneWeights = dir + "/resnet18.pth"
        let fromPth = try Trainer(options: o).bundle.network.stateDict()
        for (k, v) in resnet where k != "fc.weight" { XCTAssertEqual(fromPth[prefix + k]!.scalars, v.scalars, k) }

        // Mask2Former names its backbone as detectron2 (res2.0.conv1.norm.weight for
        // layer1.0.bn1.weight): the same torchvision file fills it.
        var m = o
        var m2f = TinyConfig.mask2former(classes: 3, thingClasses: [0, 1, 2])
        m2f.trainPoints = 64
        m.config = ModelConfig(m2f)
        let seg = try makeSegmentationDemo(images: 2, minSide: 64, maxSide: 64, seed: 4)
        m.trainList = nil
        m.panopticTrain = try XCTUnwrap(seg.segmentation).panopticTrainJSON
        m.cocoTrainImages = VOCDevkit(root: seg.devkit).imagesDirectory
        let masked = try Trainer(options: m).bundle.network.stateDict()
        XCTAssertEqual(masked["backbone.stem.conv1.weight"]?.scalars, resnet["conv1.weight"]?.scalars)
        XCTAssertEqual(masked["backbone.res2.0.conv1.norm.weight"]?.scalars, resnet["layer1.0.bn1.weight"]?.scalars)
        XCTAssertEqual(masked["backbone.res3.0.shortcut.norm.running_var"]?.scalars, resnet["layer2.0.downsample.1.running_var"]?.scalars)
        XCTAssertEqual(masked.keys.filter { $0.hasPrefix("backbone.") && !$0.hasSuffix("num_batches_tracked") }.count,
                       resnet.count - 1)

        resnet.removeValue(forKey: "layer2.0.conv1.weight")
        try SafeTensors.write(resnet, to: dir + "/partial.safetensors")
        o.backboneWeights = dir + "/partial.safetensors"
        XCTAssertThrowsError(try Trainer(options: o)) { e in
            XCTAssertTrue("\(e)".contains("partial.safetensors") && "\(e)".contains("layer2.0.conv1.weight"), "\(e)")
        }
    }
}

/// Mask data for the trainer: a lines file's images must be in a VOC devkit with their
/// segmentation PNGs; what is not names the list and the image.
final class TrainerMaskDataTests: XCTestCase {
    func testLinesOutsideADevkitOrWithoutMasks_AreErrorsNamingListAndImage() throws {
        let dir = try makeTemporaryDirectory("detrkit-maskdata")
        let shapes = try ShapesFixture.make(in: dir + "/plain", count: 2, side: 64, seed: 3)
        var o = tinyTrainOptions(lines: shapes.lines, saveDir: dir + "/logs")
        o.masks = true
        XCTAssertThrowsError(try Trainer(options: o)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(shapes.lines + ": training on masks reads a VOC devkit's segmentation PNGs, but "
                                        + shapes.annotations[0].path + " is not in a devkit's VOC<year>/JPEGImages folder"), text)
        }
        // In a devkit, but an image without its SegmentationObject PNG.
        let summary = try makeSegmentationDemo(images: 3, minSide: 64, maxSide: 64, seed: 2)
        let kit = VOCDevkit(root: summary.devkit)
        let ids = try kit.readImageSet("trainval", from: .segmentation)
        let lines = try ids.map { id in
            AnnotationLine(imagePath: FileIO.join(kit.imagesDirectory, id + ".jpg"),
                           boxes: try VOCAnnotation.load(kit.annotationPath(id)).objects.filter { !$0.difficult }.map {
                               LabeledBox(box: $0.box, classId: DemoData.classNames.firstIndex(of: $0.name)!)
                           })
        }
        o.trainList = dir + "/seg.txt"
        try AnnotationLines.write(lines, to: o.trainList!)
        try FileManager.default.removeItem(atPath: kit.segmentationObjectPath(ids[1]))
        XCTAssertThrowsError(try Trainer(options: o)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(o.trainList! + ": " + lines[1].imagePath + " has no " + kit.segmentationObjectPath(ids[1])), text)
        }
        // The semantic task reads SegmentationClass (still there) and adds the background class.
        var semantic = o
        semantic.config = try ModelConfig(family: "mask2former")
        semantic.task = .semantic
        semantic.masks = false
        semantic.epochs = 1
        var c = try XCTUnwrap(semantic.config.as(Mask2FormerConfig.self))
        c.backbone = .resnet18
        (c.convDim, c.maskDim, c.hiddenDim, c.heads, c.encoderLayers, c.encoderFeedForward) = (32, 32, 32, 4, 1, 32)
        (c.decoderLayers, c.feedForward, c.numQueries, c.trainPoints) = (3, 32, 6, 64)
        semantic.config = ModelConfig(c)
        let trainer = try Trainer(options: semantic)
        XCTAssertEqual(trainer.options.classNames, ["background"] + DemoData.classNames)
        XCTAssertEqual(trainer.bundle.config.as(Mask2FormerConfig.self)?.task, .semantic)
        XCTAssertEqual(trainer.validation.metricKind, .meanIoU)
        let sample = try trainer.trainSet.sample(at: 0)
        XCTAssertEqual(sample.target.labels.first, 0, "the background region")
    }

    /// COCO instances with masks (RLE) train a mask classifier's instance task; the run
    /// validates with the mask AP of its weights.
    func testCOCOInstancesWithMasks_TrainAndLogMaskAP() throws {
        let dir = try makeTemporaryDirectory("detrkit-cocomasks")
        let summary = try makeSegmentationDemo(images: 4, minSide: 64, maxSide: 64, seed: 6)
        let seg = try XCTUnwrap(summary.segmentation)
        var o = tinyTrainOptions(lines: "", saveDir: dir + "/logs")
        o.trainList = nil
        o.classNames = []
        o.cocoTrain = seg.instancesTrainJSON
        o.cocoVal = seg.instancesValJSON
        o.cocoTrainImages = VOCDevkit(root: summary.devkit).imagesDirectory
        o.cocoValImages = o.cocoTrainImages
        o.epochs = 1
        var c = TinyConfig.mask2former(classes: 3, thingClasses: [0, 1, 2])
        c.trainPoints = 256
        o.config = ModelConfig(c)
        let trainer = try Trainer(options: o)
        XCTAssertEqual(trainer.options.classNames, DemoData.classNames)
        let sample = try trainer.trainSet.sample(at: 0)
        XCTAssertEqual(try XCTUnwrap(sample.target.masks).count, sample.target.count)
        XCTAssertEqual(trainer.validation.metricKind, .maskAP)
        let record = try XCTUnwrap(trainer.run().records.last)
        let (ap50, map) = try Validation.maskAP(bundle: trainer.bundle, dataset: XCTUnwrap(trainer.valSet))
        XCTAssertEqual(record.ap50, ap50)
        XCTAssertEqual(record.map, map)
        XCTAssertTrue(try String(contentsOfFile: trainer.runDirectory + "/epochs.jsonl", encoding: .utf8).contains("\"mask_ap50\":"))
    }

    /// A mask classifier's run validates with its task's metric: the logged mIoU is the
    /// library's of the trained weights, under its own name in the logs.
    func testSemanticRun_LogsTheMIoUOfItsWeights() throws {
        let dir = try makeTemporaryDirectory("detrkit-semrun")
        let summary = try makeSegmentationDemo(images: 3, minSide: 64, maxSide: 64, seed: 2)
        let kit = VOCDevkit(root: summary.devkit)
        let lines = try kit.readImageSet("trainval", from: .segmentation).map { id in
            AnnotationLine(imagePath: FileIO.join(kit.imagesDirectory, id + ".jpg"), boxes: [])
        }
        var o = tinyTrainOptions(lines: dir + "/seg.txt", saveDir: dir + "/logs")
        try AnnotationLines.write(lines, to: o.trainList!)
        o.valList = o.trainList
        o.epochs = 1
        o.task = .semantic
        var c = TinyConfig.mask2former(classes: 4, thingClasses: [])
        c.trainPoints = 256
        o.config = ModelConfig(c)
        let trainer = try Trainer(options: o)
        let record = try XCTUnwrap(trainer.run().records.last)
        let miou = try Validation.meanIoU(bundle: trainer.bundle, dataset: XCTUnwrap(trainer.valSet), classCount: 4)
        XCTAssertEqual(try XCTUnwrap(record.ap50), miou)
        XCTAssertNil(record.map)
        let line = try String(contentsOfFile: trainer.runDirectory + "/epochs.jsonl", encoding: .utf8)
        XCTAssertTrue(line.contains("\"miou\":"), line)
        XCTAssertEqual(record.termNames, ["ce", "mask", "dice"])
    }
}
