import Base
import Foundation
import Model
import NN
import Tensor
import TestSupport
import XCTest

/// Our state-dict keys and shapes equal the official facebookresearch/detr ones
/// (../shared/data/checkpoint_keys, written by the official code), so a converted official
/// checkpoint loads strictly.
final class DETRKeysTests: XCTestCase {
    /// An official checkpoint's keys and shapes (../shared/data/checkpoint_keys/`name`), or a skip.
    static func officialKeys(_ name: String) throws -> [String: [Int]] {
        let path = try TestPaths.shared("checkpoint_keys/" + name)
        return try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: [Int]]
    }

    /// `model` has exactly the official keys, each with the official shape.
    static func assertKeysAndShapes(_ model: Module, equal official: [String: [Int]],
                                    file: StaticString = #filePath, line: UInt = #line) {
        let ours = Dictionary(uniqueKeysWithValues: model.namedState().map { ($0.key, $0.tensor.shape) })
        XCTAssertEqual(ours.count, official.count, "number of keys", file: file, line: line)
        let missing = Set(official.keys).subtracting(ours.keys).sorted()
        let extra = Set(ours.keys).subtracting(official.keys).sorted()
        XCTAssertEqual(missing, [], "keys of the official model we lack", file: file, line: line)
        XCTAssertEqual(extra, [], "keys we have that the official model lacks", file: file, line: line)
        for (k, shape) in official where ours[k] != nil { XCTAssertEqual(ours[k], shape, k, file: file, line: line) }
    }

    func testDETRR50_KeysAndShapesEqualOfficial() throws {
        let official = try Self.officialKeys("detr_r50.json")
        XCTAssertEqual(official.count, 458)
        var rng = SplitMix64(seed: 0)
        let model = DETR(DETRConfig(), using: &rng)
        Self.assertKeysAndShapes(model, equal: official)
        // Strict loading of a state dict with exactly the official keys succeeds.
        let state = model.stateDict().mapValues { $0.clone() }
        XCTAssertNoThrow(try model.load(state))
    }

    func testDETRPanoptic_KeysAndShapesEqualOfficial() throws {
        let official = try Self.officialKeys("detr_r50_panoptic.json")
        XCTAssertEqual(official.count, 490)
        var c = DETRConfig()
        c.numClasses = official["detr.class_embed.weight"]![0] - 1
        var rng = SplitMix64(seed: 0)
        Self.assertKeysAndShapes(DETRSegmentation(c, using: &rng), equal: official)
    }

    func testDETRSegmentation_SmallForwardShapes() {
        var c = TinyConfig.detr(queries: 3, decoderLayers: 1, classes: 2)
        // The head's GroupNorm(8) layers need dModel + heads and dModel / 16 divisible by 8.
        c.dModel = 128
        c.heads = 8
        c.backboneNorm = .frozen
        var rng = SplitMix64(seed: 3)
        let model = DETRSegmentation(c, using: &rng)
        let images = Tensor.uniform([2, 3, 64, 64], low: -1, high: 1, using: &rng)
        var ctx = ForwardContext.inference
        let out = model(images: images, mask: BoolTensor([Bool](repeating: false, count: 2 * 64 * 64), shape: [2, 64, 64]), &ctx)
        XCTAssertEqual(out.masks?.shape, [2, 3, 16, 16])
        // Every stage comes with its padding mask (image 2 is padded on its right half).
        var padded = [Bool](repeating: false, count: 2 * 64 * 64)
        for y in 0..<64 { for x in 32..<64 { padded[(64 + y) * 64 + x] = true } }
        let r = model.detr.forwardIntermediate(images: images, mask: BoolTensor(padded, shape: [2, 64, 64]), allStages: true, &ctx)
        XCTAssertEqual(r.featureMasks.map { $0.shape }, [[2, 16, 16], [2, 8, 8], [2, 4, 4], [2, 2, 2]])
        XCTAssertEqual(r.featureMasks[0].values.filter { $0 }.count, 16 * 8)
        XCTAssertEqual(r.featureMasks[3].values, [false, false, false, false, false, true, false, true])
        XCTAssertEqual(out.logits.shape, [2, 3, 3])
    }

    func testDETR_SmallForwardShapesAndBackward() {
        let c = TinyConfig.detr(queries: 5)
        var rng = SplitMix64(seed: 1)
        let model = DETR(c, using: &rng)
        let images = Tensor.uniform([2, 3, 64, 96], low: -1, high: 1, using: &rng)
        var mask = [Bool](repeating: false, count: 2 * 64 * 96)
        for y in 0..<64 { for x in 64..<96 { mask[(64 + y) * 96 + x] = true } }  // image 2 is 64x64
        var ctx = ForwardContext(training: true)
        let out = model(images: images, mask: BoolTensor(mask, shape: [2, 64, 96]), &ctx)
        XCTAssertEqual(out.logits.shape, [2, 5, 4])
        XCTAssertEqual(out.boxes.shape, [2, 5, 4])
        XCTAssertEqual(out.aux.count, 1)
        XCTAssertTrue(out.boxes.scalars.allSatisfy { $0 > 0 && $0 < 1 })
        (out.logits.sum() + out.boxes.sum() + out.aux[0].logits.sum()).backward()
        let params = model.namedParameters()
        let withoutGrad = params.filter { $0.tensor.grad == nil }.map { $0.key }
        XCTAssertEqual(withoutGrad, [], "every trainable parameter receives a gradient")
    }
}
