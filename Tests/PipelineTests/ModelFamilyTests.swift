import Base
import Datasets
import Foundation
import Model
import NN
import Pipeline
import Tensor
import TestSupport
import XCTest

/// The family seam: checkpoints record the family and its config, bare state dicts are
/// recognised by their keys, and checkpoints written before families existed still load.
final class ModelFamilyTests: XCTestCase {
    static let fixtures = TestPaths.fixtures()

    /// A safetensors file with the header a checkpoint was written with (kept as the fixture)
    /// and values regenerated: every tensor filled with `value`.
    func rebuild(header name: String, to path: String, value: Float) throws {
        let header = try Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/checkpoint_v1/" + name))
        let object = try JSONSerialization.jsonObject(with: header) as! [String: Any]
        var tensors: [String: Tensor] = [:]
        for (key, entry) in object where key != "__metadata__" {
            let shape = (entry as! [String: Any])["shape"] as! [Int]
            tensors[key] = Tensor.full(shape, value)
        }
        try SafeTensors.write(tensors, to: path)
    }

    /// A checkpoint folder written by the code before model families (state.json verbatim; the
    /// tensors' names and shapes from its files' headers) loads as a DETR, keeps its training
    /// options for --resume and is written back with `"model": "detr"`.
    func testCheckpointFromBeforeFamilies_Loads() throws {
        let dir = try makeTemporaryDirectory("family")
        let ck = dir + "/last"
        try FileManager.default.createDirectory(atPath: ck, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.fixtures + "/checkpoint_v1/state.json", toPath: ck + "/state.json")
        try rebuild(header: "model.safetensors.header.json", to: ck + "/model.safetensors", value: 0.01)
        try rebuild(header: "optimizer.safetensors.header.json", to: ck + "/optimizer.safetensors", value: 0)
        let old = try String(contentsOfFile: ck + "/state.json", encoding: .utf8)
        XCTAssertFalse(old.contains("\"model\""), "the fixture predates the family field")

        let bundle = try ModelBundle.load(ck)
        XCTAssertEqual(bundle.config.family, "detr")
        let c = try XCTUnwrap(bundle.config.as(DETRConfig.self))
        XCTAssertEqual([c.dModel, c.heads, c.encoderLayers, c.decoderLayers, c.numQueries, c.numClasses], [32, 4, 1, 2, 8, 3])
        XCTAssertEqual(c.groups, 1, "a setting the old file lacks takes its default")
        XCTAssertEqual(c.classLoss, .softmax)
        XCTAssertFalse(c.maskHead)
        XCTAssertEqual(bundle.classNames, ["circle", "square", "triangle"])
        let options = try Trainer.storedOptions(ck)
        XCTAssertEqual(options.config, bundle.config)
        XCTAssertEqual(options.batch, 4)
        // It runs.
        var rng = SplitMix64(seed: 1)
        var px = [UInt8](repeating: 0, count: 40 * 50 * 3)
        for i in px.indices { px[i] = UInt8(rng.nextInt(below: 256)) }
        XCTAssertNoThrow(try Detector(bundle: bundle).detect(RGBImage(width: 50, height: 40, pixels: px), confidence: 0))
        // Saved again, it names its family.
        try bundle.save(to: dir + "/again")
        let written = try String(contentsOfFile: dir + "/again/state.json", encoding: .utf8)
        XCTAssertTrue(written.contains("\"model\" : \"detr\""), written)
        XCTAssertEqual(try ModelBundle.load(dir + "/again").state, bundle.state)
    }

    /// An old checkpoint with `segmentation: true` is DETR with the mask head.
    func testOldSegmentationFlag_BecomesTheMaskHead() throws {
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/checkpoint_v1/state.json"))) as! [String: Any]
        json["segmentation"] = true
        let state = try CheckpointState.decode(JSONSerialization.data(withJSONObject: json), path: "state.json")
        XCTAssertTrue(state.hasMaskHead)
        XCTAssertTrue(state.problems().contains { $0.contains("mask head") }, "\(state.problems())")
    }

    func testConditionalDETRCheckpoint_RoundTripsAndBareFileIsRecognised() throws {
        let dir = try makeTemporaryDirectory("family")
        let c = TinyConfig.conditionalDETR(queries: 6, groups: 4, dropout: 0.1)
        let bundle = ModelBundle.fresh(config: c, classNames: ["a", "b", "c"], inputSize: 64, preset: .none, seed: 2)
        try bundle.save(to: dir + "/ck")
        let text = try String(contentsOfFile: dir + "/ck/state.json", encoding: .utf8)
        XCTAssertTrue(text.contains("\"model\" : \"conditional-detr\""), text)
        let back = try ModelBundle.load(dir + "/ck")
        XCTAssertEqual(back.state, bundle.state)
        XCTAssertEqual(back.config.as(ConditionalDETRConfig.self), c)
        XCTAssertEqual(back.network.stateDict()["query_embed.weight"]!.shape, [24, 32], "checkpoints keep all K*Q query rows")

        // A bare state dict: the family from its keys, the architecture from its shapes (its
        // 24 query rows run as 24 queries: groups are not in the shapes).
        try SafeTensors.write(bundle.network.stateDict(), to: dir + "/bare.safetensors")
        let bare = try ModelBundle.load(dir + "/bare.safetensors", numClasses: 3, heads: 4)
        XCTAssertEqual(bare.config.family, "conditional-detr")
        let bc = try XCTUnwrap(bare.config.as(ConditionalDETRConfig.self))
        XCTAssertEqual([bc.numClasses, bc.dModel, bc.numQueries, bc.backboneStages, bc.decoderLayers], [3, 32, 24, 3, 2])
        XCTAssertEqual(bc.backbone, .resnet18)

        // Inference of the checkpoint is group 0: the same detections as the bare file's
        // first 6 queries would give are not needed; it returns Q = 6 queries.
        var rng = SplitMix64(seed: 4)
        var px = [UInt8](repeating: 0, count: 48 * 64 * 3)
        for i in px.indices { px[i] = UInt8(rng.nextInt(below: 256)) }
        let result = try Detector(bundle: back).detect(RGBImage(width: 64, height: 48, pixels: px), confidence: 0)
        XCTAssertEqual(result.output.numQueries, 6)
        XCTAssertEqual(result.detections.count, 6 * 3, "sigmoid scoring: every (query, class) pair up to 100")
    }

    func testUnknownFamily_IsAClearError() throws {
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/checkpoint_v1/state.json"))) as! [String: Any]
        var config = json["config"] as! [String: Any]
        config["model"] = "yolo"
        json["config"] = config
        XCTAssertThrowsError(try CheckpointState.decode(JSONSerialization.data(withJSONObject: json), path: "ck/state.json")) { e in
            XCTAssertTrue("\(e)".contains("ck/state.json") && "\(e)".contains("unknown model 'yolo'"), "\(e)")
        }
    }

    /// A mask classifier's inference settings travel with its config (absent keys: the official
    /// defaults); detr-train's box losses refuse it by name of the capability.
    func testMaskClassifier_SettingsRoundTripAndTrainingOptions() throws {
        var c = Mask2FormerConfig()
        c.numClasses = 4
        c.task = .panoptic
        c.testTopK = 7
        c.thingClasses = [0, 2]
        c.objectMaskThreshold = 0.5
        let data = try JSONEncoder().encode(ModelConfig(c))
        let back = try JSONDecoder().decode(ModelConfig.self, from: data)
        XCTAssertEqual(back, ModelConfig(c))
        XCTAssertEqual(back.family, "mask2former")
        let classifier = try XCTUnwrap(back.value as? any MaskClassifierConfig)
        XCTAssertEqual(classifier.task, .panoptic)
        XCTAssertEqual((0..<4).map(classifier.isThing), [true, false, true, false])

        let bare = try JSONDecoder().decode(ModelConfig.self, from: Data(#"{"model": "mask2former", "numClasses": 4}"#.utf8))
        let defaults = try XCTUnwrap(bare.as(Mask2FormerConfig.self))
        XCTAssertEqual(defaults.task, .instance)
        XCTAssertEqual(defaults.testTopK, 100)
        XCTAssertEqual(defaults.objectMaskThreshold, 0.8)
        XCTAssertNil(defaults.thingClasses)

        c.thingClasses = [4]
        XCTAssertEqual(c.problems(), ["thing class 4 is outside 0..<4"])

        // A mask classifier trains on masks, instance by default; box models do not.
        var options = TrainOptions()
        options.config = ModelConfig(defaults)
        options.trainList = "train.txt"
        XCTAssertEqual(options.problems(), [])
        XCTAssertTrue(options.trainsMasks)
        XCTAssertEqual(options.effectiveTask, .instance)
        options.task = .semantic
        XCTAssertEqual(options.problems(), [])
        options.task = .panoptic
        XCTAssertEqual(options.problems(), ["--task panoptic trains on COCO panoptic data (--coco-panoptic)"])
        options.task = nil
        options.panopticTrain = "panoptic.json"
        options.cocoTrainImages = "images"
        XCTAssertEqual(options.effectiveTask, .panoptic)
        options.config = try ModelConfig(family: "detr")
        XCTAssertFalse(options.trainsMasks)
        XCTAssertNil(options.effectiveTask)
        options.masks = true
        XCTAssertEqual(options.problems(), [], "--masks turns DETR's segmentation head on (the trainer sets maskHead)")
        options.task = .semantic
        XCTAssertEqual(options.problems(), ["--task semantic trains a mask classifier (--model mask2former)"])
        options.task = nil
        options.config = try ModelConfig(family: "conditional-detr")
        XCTAssertEqual(options.problems().count, 1)
        XCTAssertTrue(options.problems()[0].hasPrefix("--masks trains DETR's segmentation head"), "\(options.problems())")
    }
}
