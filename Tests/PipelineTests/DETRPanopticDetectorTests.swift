import Augment
import Base
import Datasets
import Foundation
import Model
import NN
import Pipeline
import Tensor
import TestSupport
import XCTest

/// DETR with its mask head as a panoptic model in the `Detector`: the task and the stuff classes
/// travel with the config, and the panoptic result is a consistent COCO panoptic map at the
/// image's size (ids from 1, 0 void, each segment's area its pixels), through a letterbox too.
final class DETRPanopticDetectorTests: XCTestCase {
    /// A fresh DETR-segm (ResNet-18, width 128, 8 heads) over 3 classes, 0 and 1 things.
    static func bundle(preset: Preset, threshold: Float) -> ModelBundle {
        var c = TinyConfig.detr(queries: 8, decoderLayers: 1, classes: 3)
            .sized(dModel: 128, heads: 8, feedForward: 64, encoderLayers: 1, decoderLayers: 1, queries: 8, dropout: 0)
        c.maskHead = true
        c.task = .panoptic
        c.thingClasses = [0, 1]
        c.panopticThreshold = threshold
        return ModelBundle.fresh(config: c, classNames: ["circle", "square", "sky"], inputSize: 64, preset: preset, seed: 11)
    }

    static func image() -> RGBImage {
        var rng = SplitMix64(seed: 5)
        var px = [UInt8](repeating: 0, count: 50 * 70 * 3)
        for i in px.indices { px[i] = UInt8(rng.nextInt(below: 256)) }
        return RGBImage(width: 70, height: 50, pixels: px)
    }

    func testConfig_TaskAndThingsChecked_AndAbsentInBoxConfigs() throws {
        var c = DETRConfig()
        let plain = try XCTUnwrap(JSONSerialization.jsonObject(with: JSONEncoder().encode(c)) as? [String: Any])
        XCTAssertNil(plain["task"])
        XCTAssertNil(plain["thingClasses"])
        c.task = .panoptic
        XCTAssertTrue(c.problems().contains { $0.contains("needs the mask head") }, "\(c.problems())")
        c.maskHead = true
        c.task = .semantic
        c.thingClasses = [0, 91]
        let problems = c.problems()
        XCTAssertTrue(problems.contains { $0.contains("not semantic") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.contains("thing class 91") }, "\(problems)")
        c.task = .panoptic
        c.thingClasses = [0, 1]
        XCTAssertEqual(c.problems(), [])
        c.classLoss = .sigmoid
        XCTAssertTrue(c.problems().contains { $0.contains("softmax") }, "\(c.problems())")
        c.classLoss = .softmax
        XCTAssertEqual(try JSONDecoder().decode(DETRConfig.self, from: JSONEncoder().encode(c)), c)
        XCTAssertTrue(c.isThing(1))
        XCTAssertFalse(c.isThing(2))
    }

    /// Letterbox (reference preset): the segments cover the image only (its size, ids 0...n),
    /// each segment's area is its pixel count, stuff and things as the config says.
    func testPanoptic_ThroughALetterbox_IsAConsistentMapAtTheImageSize() throws {
        let b = Self.bundle(preset: .reference, threshold: 0)
        XCTAssertEqual(b.segmentationTasks, [.instance, .panoptic])
        XCTAssertEqual(b.defaultTask, .panoptic)
        let detector = Detector(bundle: b)
        XCTAssertEqual(detector.task, .panoptic)
        XCTAssertNil(try Detector(bundle: b, task: .instance).detect(Self.image(), confidence: 0).panoptic)
        let image = Self.image()
        let result = try detector.detect(image, confidence: 0)
        XCTAssertNotEqual(result.prepared.offset.y, 0, "the letterbox pads the 70x50 image vertically")
        let p = try XCTUnwrap(result.panoptic)
        XCTAssertEqual([p.height, p.width], [50, 70])
        XCTAssertEqual(p.ids.count, 50 * 70)
        XCTAssertFalse(p.segments.isEmpty)
        XCTAssertEqual(p.segments.map(\.id), Array(1...p.segments.count))
        var counts = [Int](repeating: 0, count: p.segments.count + 1)
        for v in p.ids {
            XCTAssertTrue(v >= 0 && Int(v) <= p.segments.count, "id \(v)")
            counts[Int(v)] += 1
        }
        for s in p.segments {
            XCTAssertEqual(s.area, counts[s.id], "segment \(s.id)")
            XCTAssertGreaterThan(s.area, 0)
            XCTAssertTrue((0..<3).contains(s.categoryId))
            XCTAssertEqual(s.isThing, s.categoryId < 2)
        }
        // With a threshold no query passes, every pixel is void.
        let none = try Detector(bundle: Self.bundle(preset: .reference, threshold: 1)).detect(image, confidence: 0)
        let q = try XCTUnwrap(none.panoptic)
        XCTAssertEqual(q.segments.count, 0)
        XCTAssertEqual(Set(q.ids), [0])
        // A box model serves no segmentation task.
        let box = TinyConfig.detr(queries: 8, decoderLayers: 1, classes: 3)
        let boxBundle = ModelBundle.fresh(config: box, classNames: ["a", "b", "c"], inputSize: 64, seed: 1)
        XCTAssertEqual(boxBundle.segmentationTasks, [])
        XCTAssertNil(Detector(bundle: boxBundle).task)
    }
}
