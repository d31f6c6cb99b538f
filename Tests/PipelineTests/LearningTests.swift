import Augment
import Datasets
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
