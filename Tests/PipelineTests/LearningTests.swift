import Augment
import Datasets
import Eval
import Foundation
import Model
import Pipeline
import TestSupport
import XCTest

/// Does our training learn like PyTorch's? The reference run: a small DETR (ResNet-18
/// from scratch, 128x128 input, d_model 128, 2+2 layers, 16 queries, no dropout, AdamW 2e-4,
/// batch 8) on 8 generated shape images reached AP50 0.08 after 278 steps, 0.21 after 412 and
/// 0.27 after 546 (PyTorch/transformers on 2 threads). Ours must reach AP50 >= 0.2 on those
/// images by step 550 and at least halve its loss. Runs in release builds only (a few
/// minutes); `make test` runs it with `swift test -c release`.
final class LearningTests: XCTestCase {
    func testSmallDETRLearnsEightShapeImages() throws {
        try Self.skipInDebugBuilds()
        // 22 x 25 = 550 steps, AP50 after 275 and 550.
        let records = try eightImageRun("learning", config: ModelConfig(Self.network(DETRConfig())), preset: .none,
                                        backboneLrRatio: 0.1, epochs: 22, evalPeriod: 11)
        let first = records.first!.trainLoss, last = records.last!.trainLoss
        XCTAssertLessThanOrEqual(last, first / 2, "loss \(first) -> \(last)")
        let ap50 = try XCTUnwrap(records.last?.ap50)
        XCTAssertGreaterThanOrEqual(ap50, 0.2, "AP50 after 550 steps")
    }

    /// The demo's recipe (Conditional DETR with 3 query groups, stride-16 ResNet-18 features,
    /// sigmoid focal loss, AdamW 2e-4 constant for every parameter, flips) on the same 8 shape
    /// images: AP50 on them after a fixed number of steps, with a margin below what it reached
    /// when measured. A change that breaks the recipe's convergence fails here.
    func testDemoRecipeLearnsEightShapeImagesQuickly() throws {
        try Self.skipInDebugBuilds()
        var c = Self.network(ConditionalDETRConfig())
        c.backboneStages = 3
        c.groups = 3
        let epochs = Self.demoRecipeEpochs
        let records = try eightImageRun("learning-demo", config: ModelConfig(c), preset: .flip, backboneLrRatio: 1,
                                        epochs: epochs, evalPeriod: epochs / 2)
        let ap50 = try XCTUnwrap(records.last?.ap50)
        XCTAssertGreaterThanOrEqual(ap50, Self.demoRecipeAP50, "AP50 after \(epochs * 25) steps")
    }

    /// Steps (in epochs of 25) and the AP50 the demo recipe must reach on the 8 images: measured
    /// 0.27 after 150 steps and 0.705 after 300 (release build, 98 s on the 2-core machine).
    static let demoRecipeEpochs = 12
    static let demoRecipeAP50 = 0.5

    /// The segmentation demo's recipe (Mask2Former, ResNet-18 from scratch, width 64, 1 + 3
    /// layers, 16 queries, 1024 points, AdamW 2e-4 constant, batch 4, flips) on the 8 panoptic
    /// train images of a generated 10-image set (96 x 72 pixels; the list repeats them 25 times,
    /// so an epoch is 50 steps): the panoptic quality of the library's predictions on those
    /// images after a fixed number of steps, with a margin below what it reached when measured.
    /// A change that breaks Mask2Former's training fails here.
    func testSegmentationDemoRecipeLearnsEightPanopticImages() throws {
        try Self.skipInDebugBuilds()
        let summary = try makeSegmentationDemo(images: 10, minSide: 96, maxSide: 96, seed: 2)
        let seg = try XCTUnwrap(summary.segmentation)
        let images = summary.devkit + "/VOC2007/JPEGImages"
        let dir = try makeTemporaryDirectory("learning-m2f")
        // The train split repeated 25 times under new image ids (the same files).
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: seg.panopticTrainJSON))) as? [String: Any])
        let imageEntries = try XCTUnwrap(json["images"] as? [[String: Any]])
        let annotations = try XCTUnwrap(json["annotations"] as? [[String: Any]])
        XCTAssertEqual(annotations.count, 8)
        var repeated = json
        repeated["images"] = (0..<25).flatMap { r in imageEntries.map { e in e.merging(["id": r * 1000 + (e["id"] as? Int ?? 0)]) { $1 } } }
        repeated["annotations"] = (0..<25).flatMap { r in
            annotations.map { a in a.merging(["image_id": r * 1000 + (a["image_id"] as? Int ?? 0)]) { $1 } }
        }
        let repeatedJSON = dir + "/repeated.json"
        try JSONSerialization.data(withJSONObject: repeated).write(to: URL(fileURLWithPath: repeatedJSON))

        var c = Mask2FormerConfig()
        c.backbone = .resnet18
        c.hiddenDim = 64
        c.convDim = 64
        c.maskDim = 64
        c.heads = 4
        c.encoderLayers = 1
        c.decoderLayers = 3
        c.feedForward = 256
        c.numQueries = 16
        c.trainPoints = 1024
        var o = TrainOptions()
        o.panopticTrain = repeatedJSON
        o.panopticTrainSegments = seg.panopticFolder
        o.cocoTrainImages = images
        o.config = ModelConfig(c)
        o.inputSize = 96
        o.preset = .flip
        o.lr = 2e-4
        o.minLr = 2e-4
        o.backboneLrRatio = 1
        o.schedule = .constant
        o.batch = 4
        o.epochs = Self.segmentationRecipeEpochs
        o.evalPeriod = 100
        o.savePeriod = 100
        o.workers = 1
        o.seed = 0
        o.saveDir = dir + "/logs"
        let start = Date()
        let result = try Trainer(options: o).run()
        for r in result.records { print(String(format: "learning-m2f: step %3d loss %.3f", (r.epoch + 1) * 50, r.trainLoss)) }

        // The library's panoptic predictions of the 8 images and their PQ against the ground truth.
        let bundle = try ModelBundle.load(result.runDirectory + "/last")
        let detector = Detector(bundle: bundle)
        let gt = try COCOPanoptic.load(seg.panopticTrainJSON)
        var items: [PanopticWriter.Item] = []
        for a in gt.annotations {
            let stem = (a.fileName as NSString).deletingPathExtension
            let prediction = try XCTUnwrap(try detector.detect(try ImageIO.load(images + "/" + stem + ".jpg"), confidence: 0.001).panoptic)
            items.append(PanopticWriter.Item(imageID: a.imageID, fileName: a.fileName, prediction: prediction))
        }
        try PanopticWriter.write(items, categoryIDs: gt.categories.map(\.id), json: dir + "/pred.json", folder: dir + "/pred")
        let pq = try PanopticQuality.evaluate(groundTruthJSON: seg.panopticTrainJSON, groundTruthFolder: seg.panopticFolder,
                                              predictionJSON: dir + "/pred.json", predictionFolder: dir + "/pred")
        print(String(format: "learning-m2f: PQ %.3f (things %.3f, stuff %.3f) after %d steps, %.0f s", pq.all.pq, pq.things.pq, pq.stuff.pq,
                     o.epochs * 50, Date().timeIntervalSince(start)))
        XCTAssertLessThanOrEqual(result.records.last!.trainLoss, result.records.first!.trainLoss / 2)
        XCTAssertGreaterThanOrEqual(pq.all.pq, Self.segmentationRecipePQ, "PQ after \(o.epochs * 50) steps")
    }

    /// Steps (in epochs of 50) and the PQ the segmentation recipe must reach on its 8 images:
    /// measured 0.964 (things 0.943, stuff 0.985) after 200 steps, the loss 27.9 -> 6.5 (release
    /// build, 35 s on the shared 2-core machine).
    static let segmentationRecipeEpochs = 4
    static let segmentationRecipePQ = 0.75

    /// A few minutes of training: release builds only.
    static func skipInDebugBuilds() throws {
        #if DEBUG
        print("LearningTests: skipped in a debug build (make test runs it in release)")
        throw XCTSkip("the learning test runs in release builds")
        #endif
    }

    /// The learning tests' network: ResNet-18 from scratch, d_model 128, 8 heads, FFN 512, 2+2
    /// layers, 16 queries, no dropout.
    static func network<C: TransformerDetectorConfig>(_ family: C) -> C {
        var c = family.sized(dModel: 128, heads: 8, feedForward: 512, encoderLayers: 2, decoderLayers: 2, queries: 16, dropout: 0)
        c.backbone = .resnet18
        return c
    }

    /// Trains on 8 generated 128-pixel shape images (the training list repeats them 25 times, so
    /// an epoch is 25 steps of batch 8) with AdamW 2e-4 constant, validating on the same 8
    /// images; prints the curve.
    func eightImageRun(_ label: String, config: ModelConfig, preset: Preset, backboneLrRatio: Float, epochs: Int,
                       evalPeriod: Int) throws -> [EpochRecord] {
        let dir = try makeTemporaryDirectory(label)
        let data = try ShapesFixture.make(in: dir + "/data", count: 8, side: 128, seed: 1, repeats: 25)
        let lines8 = dir + "/data/val.txt"
        try AnnotationLines.write(data.annotations.map { AnnotationLine(imagePath: $0.path, boxes: $0.boxes) }, to: lines8)
        var o = TrainOptions()
        o.trainList = data.lines
        o.valList = lines8
        o.classNames = DemoData.classNames
        o.config = config
        o.inputSize = 128
        o.preset = preset
        o.lr = 2e-4
        o.minLr = 2e-4
        o.backboneLrRatio = backboneLrRatio
        o.schedule = .constant
        o.weightDecay = 1e-4
        o.batch = 8
        o.epochs = epochs
        o.evalPeriod = evalPeriod
        o.savePeriod = 100
        o.workers = 1
        o.seed = 0
        o.saveDir = dir + "/logs"
        let start = Date()
        let result = try Trainer(options: o).run()
        let seconds = Date().timeIntervalSince(start)
        for r in result.records {
            print(String(format: "\(label): step %3d loss %.3f val_loss %.3f", (r.epoch + 1) * 25, r.trainLoss, r.valLoss ?? .nan)
                  + (r.ap50.map { String(format: " AP50 %.3f", $0) } ?? ""))
        }
        print(String(format: "\(label): %.0f s, %.1f images/s", seconds, Double(epochs * 25 * 8) / seconds))
        return result.records
    }
}
