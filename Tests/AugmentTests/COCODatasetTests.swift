import Augment
import Base
import Datasets
import Foundation
import Tensor
import TestSupport
import XCTest

/// The COCO adapter over the shared shapes3 set (skipped when ../shared/data is absent).
final class COCODatasetTests: XCTestCase {
    func testShapes3_BoxesLabelsAndBatches() throws {
        let dir = try TestPaths.shared("coco/shapes3", requiring: "gt_dataset.json")
        let data = try COCODataset(annotationFile: dir + "/gt_dataset.json", imagesDirectory: dir)
        XCTAssertEqual(data.count, 3)
        XCTAssertEqual(data.categoryIds, [1, 2, 3, 4])
        let s = try data.sample(at: 0)  // image id 1 is img_3.jpg
        XCTAssertTrue(s.path.hasSuffix("img_3.jpg"))
        XCTAssertEqual(s.target.imageId, 1)
        XCTAssertEqual(s.target.labels, [0, 1, 2])
        // [145, 24, 108, 108] xywh -> xyxy, clipped to the 256-wide image.
        XCTAssertEqual(s.target.boxes[1], Box(145, 24, 253, 132))
        XCTAssertEqual(s.target.boxes[0], Box(22, 24, 131, 135))
        let loader = try DataLoader(dataset: data, transform: Preset.detr.validation(),
                                    options: LoaderOptions(batchSize: 3, shuffle: false, workers: 2))
        let b = try XCTUnwrap(try loader.epoch(0).next())
        XCTAssertEqual(b.images.tensors.shape, [3, 3, 800, 800])
        XCTAssertEqual(b.targets.map(\.count), [3, 3, 3])
        XCTAssertEqual(b.targets[0].boxes[0], (22 + 131) / 2 / 256, accuracy: 1e-6)
    }

    /// Instance masks rasterised as pycocotools' annToMask does: pixel counts of image 1's
    /// three polygons from pycocotools 2.0.11 (COCO(...).annToMask(a).sum()).
    func testShapes3_MasksMatchPycocotools() throws {
        let dir = try TestPaths.shared("coco/shapes3", requiring: "gt_dataset.json")
        let data = try COCODataset(annotationFile: dir + "/gt_dataset.json", imagesDirectory: dir, masks: true)
        let s = try data.sample(at: 0)
        let masks = try XCTUnwrap(s.target.masks)
        XCTAssertEqual(masks.count, 3)
        XCTAssertEqual(masks.height, s.image.height)
        let plane = masks.height * masks.width
        let areas = (0..<3).map { k in masks.values[(k * plane)..<((k + 1) * plane)].reduce(0) { $0 + Int($1) } }
        XCTAssertEqual(areas, [8040, 8113, 4998])
        // Masks follow the image through the transforms: a flip keeps every pixel count.
        var rng = SplitMix64(seed: 1)
        let flipped = try RandomHorizontalFlip(p: 1).apply(s, using: &rng)
        let fm = try XCTUnwrap(flipped.target.masks)
        XCTAssertEqual((0..<3).map { k in fm.values[(k * plane)..<((k + 1) * plane)].reduce(0) { $0 + Int($1) } }, areas)
    }
}
