import Base
import Datasets
import Foundation
import Model
import NN
import Pipeline
import Tensor
import TestSupport
import XCTest

final class ModelBundleTests: XCTestCase {
    /// Save then load gives the same tensors and state; a bare safetensors file needs classes
    /// and its architecture is read back from the shapes.
    func testSaveLoadRoundTripAndInference() throws {
        let dir = try makeTemporaryDirectory("bundle")
        let bundle = ModelBundle.fresh(config: TinyConfig.detr(queries: 8), classNames: ["a", "b", "c"], inputSize: 64, seed: 3)
        try bundle.save(to: dir + "/ck")
        let back = try ModelBundle.load(dir + "/ck")
        XCTAssertEqual(back.state, bundle.state)
        let a = bundle.network.stateDict(), b = back.network.stateDict()
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        for (k, t) in a { XCTAssertEqual(t.scalars, b[k]!.scalars, k) }

        try SafeTensors.write(a, to: dir + "/bare.safetensors")
        XCTAssertThrowsError(try ModelBundle.load(dir + "/bare.safetensors")) { e in
            XCTAssertTrue("\(e)".contains("--classes"), "\(e)")
        }
        let bare = try ModelBundle.load(dir + "/bare.safetensors", numClasses: 3, heads: 4)
        var expected = TinyConfig.detr(queries: 8)
        expected.auxLoss = true
        expected.dropout = 0.1  // not in the shapes: the paper default
        XCTAssertEqual(bare.config, ModelConfig(expected))
        XCTAssertThrowsError(try ModelBundle.load(dir + "/bare.safetensors", numClasses: 5)) { e in
            XCTAssertTrue("\(e)".contains("3 classes"), "\(e)")
        }
        // The same state dict as a PyTorch checkpoint, bare or wrapped as the official ones, under
        // any name: the same network.
        try TorchSave.legacy(a).write(to: URL(fileURLWithPath: dir + "/bare.pth"))
        try TorchSave.legacy(a, wrapped: true).write(to: URL(fileURLWithPath: dir + "/official.bin"))
        let pth = try ModelBundle.load(dir + "/official.bin", numClasses: 3, heads: 4)
        XCTAssertEqual(pth.config, bare.config)
        let c = pth.network.stateDict()
        for (k, t) in a { XCTAssertEqual(t.scalars, c[k]!.scalars, k) }
        XCTAssertThrowsError(try ModelBundle.load(dir + "/bare.pth")) { e in
            XCTAssertTrue("\(e)".contains("--classes") && "\(e)".contains("bare.pth"), "\(e)")
        }
        XCTAssertThrowsError(try ModelBundle.load(dir + "/nothing")) { e in
            XCTAssertTrue("\(e)".contains(dir + "/nothing"), "\(e)")
        }

        // A checkpoint missing a key fails naming it.
        var partial = a
        partial.removeValue(forKey: "class_embed.bias")
        try Checkpoint.save(to: dir + "/partial", model: partial, optimizer: nil, state: try bundle.state.encoded())
        XCTAssertThrowsError(try ModelBundle.load(dir + "/partial")) { e in
            XCTAssertTrue("\(e)".contains("class_embed.bias"), "\(e)")
        }

        // A state claiming a mask head that this width cannot have: an error, not a trap.
        var segState = bundle.state
        var segConfig = try XCTUnwrap(segState.config.as(DETRConfig.self))
        segConfig.maskHead = true
        segState.config = ModelConfig(segConfig)
        try Checkpoint.save(to: dir + "/seg", model: a, optimizer: nil, state: try segState.encoded())
        XCTAssertThrowsError(try ModelBundle.load(dir + "/seg")) { e in
            XCTAssertTrue("\(e)".contains("mask head") && "\(e)".contains(dir + "/seg"), "\(e)")
        }

        // Same weights, same detections.
        var rng = SplitMix64(seed: 5)
        var px = [UInt8](repeating: 0, count: 50 * 70 * 3)
        for i in px.indices { px[i] = UInt8(rng.nextInt(below: 256)) }
        let image = RGBImage(width: 70, height: 50, pixels: px)
        let d1 = try Detector(bundle: bundle).detect(image, confidence: 0)
        let d2 = try Detector(bundle: back).detect(image, confidence: 0)
        XCTAssertEqual(d1.detections, d2.detections)
        XCTAssertEqual(d1.detections.count, 8)
        XCTAssertEqual(d1.prepared.input.shape, [1, 3, 64, 89])
        for d in d1.detections {
            XCTAssertTrue(d.box.x0 >= 0 && d.box.x1 <= 70 && d.box.y0 >= 0 && d.box.y1 <= 50)
        }
    }
}
