import Augment
import Base
import Datasets
import Foundation
import Tensor
import TestSupport
import XCTest

/// Instance masks of the COCO training set against pycocotools' annToMask (a fixture written by
/// scripts/fixtures/coco_masks_reference.py: polygons, uncompressed and compressed RLE, a crowd
/// object and a zero-width box), and masks through the transforms and the loader's batches.
final class COCOMaskDatasetTests: XCTestCase {
    struct Expected: Decodable {
        var masks: [String: [String]]
    }

    func expectedMask(_ id: Int) throws -> [UInt8] {
        let e = try TestPaths.decodeFixture(Expected.self, "coco_masks/expected.json")
        let rows = try XCTUnwrap(e.masks[String(id)])
        return rows.flatMap { $0.utf8.map { $0 == UInt8(ascii: "1") ? 1 : 0 } }
    }

    func plane(_ m: MaskStack, _ k: Int) -> [UInt8] {
        let n = m.height * m.width
        return Array(m.values[(k * n)..<((k + 1) * n)])
    }

    func fixtureSet(masks: Bool = true) throws -> COCODataset {
        let dir = TestPaths.fixtures() + "/coco_masks"
        return try COCODataset(annotationFile: dir + "/instances.json", imagesDirectory: dir, masks: masks)
    }

    func testEveryForm_EqualsAnnToMask_CrowdLeftOut() throws {
        let s = try fixtureSet().sample(at: 0)
        let m = try XCTUnwrap(s.target.masks)
        XCTAssertEqual(m.count, 4)  // the crowd object (14) is left out
        XCTAssertEqual(m.height, 17)
        XCTAssertEqual(m.width, 23)
        // Category ids 1, 3, 5 -> labels 0, 1, 2.
        XCTAssertEqual(s.target.labels, [1, 0, 2, 1])
        for (k, id) in [11, 12, 13, 15].enumerated() {
            XCTAssertEqual(plane(m, k), try expectedMask(id), "annotation \(id)")
        }
        XCTAssertGreaterThan(plane(m, 1).reduce(0) { $0 + Int($1) }, 0)
        // Without masks nothing is rasterised.
        XCTAssertNil(try fixtureSet(masks: false).sample(at: 0).target.masks)
    }

    /// The loader drops the zero-width box with its mask; the batch's masks are the kept ones.
    func testLoader_DropsDegenerateBoxWithItsMask() throws {
        let loader = try DataLoader(dataset: try fixtureSet(), transform: Identity(),
                                    options: LoaderOptions(batchSize: 1, shuffle: false))
        let b = try XCTUnwrap(try loader.epoch(0).next())
        XCTAssertEqual(b.targets[0].labels, [1, 0, 2])
        let masks = try XCTUnwrap(b.masks)
        XCTAssertEqual(masks.count, 1)
        XCTAssertEqual(masks[0].shape, [3, 17, 23])
        let values = masks[0].scalars
        for (k, id) in [11, 12, 13].enumerated() {
            XCTAssertEqual(values[(k * 17 * 23)..<((k + 1) * 17 * 23)].map { UInt8($0) }, try expectedMask(id), "annotation \(id)")
        }
        // The box-only set gives no masks.
        let plain = try DataLoader(dataset: try fixtureSet(masks: false), transform: Identity(),
                                   options: LoaderOptions(batchSize: 1, shuffle: false))
        XCTAssertNil(try XCTUnwrap(try plain.epoch(0).next()).masks)
    }

    // MARK: alignment through the transforms

    /// Hollow rectangles (a hole inside, never at the edge) with boxes equal to their extents.
    struct RectangleSet: DetectionDataset {
        var sizes: [(Int, Int)]
        var count: Int { sizes.count }
        func imagePath(at index: Int) -> String { "rectangles/\(index)" }
        func sample(at index: Int) throws -> Sample {
            let (w, h) = sizes[index]
            var g = SplitMix64(seed: UInt64(index + 1))
            var image = RGBImage(width: w, height: h, fill: (0, 0, 0))
            for i in 0..<image.pixels.count { image.pixels[i] = UInt8(truncatingIfNeeded: g.next()) }
            var boxes: [Box] = []
            let n = 4
            var masks = MaskStack(count: n, height: h, width: w)
            for k in 0..<n {
                let bw = 8 + g.nextInt(below: w / 2), bh = 8 + g.nextInt(below: h / 2)
                let x0 = g.nextInt(below: w - bw + 1), y0 = g.nextInt(below: h - bh + 1)
                for y in y0..<(y0 + bh) {
                    for x in x0..<(x0 + bw) {
                        let inner = x > x0 + 2 && x < x0 + bw - 3 && y > y0 + 2 && y < y0 + bh - 3
                        masks[k, x, y] = inner ? 0 : 1
                    }
                }
                boxes.append(Box(Float(x0), Float(y0), Float(x0 + bw), Float(y0 + bh)))
            }
            return Sample(image: image, target: Target(boxes: boxes, labels: Array(0..<n), masks: masks,
                                                       imageId: Int64(index), originalSize: (h, w)),
                          path: imagePath(at: index))
        }
    }

    /// The extent `[x0, y0, x1 + 1, y1 + 1]` of mask `k`, nil when empty.
    func extent(_ m: MaskStack, _ k: Int) -> Box? {
        var x0 = Int.max, y0 = Int.max, x1 = -1, y1 = -1
        for y in 0..<m.height {
            for x in 0..<m.width where m[k, x, y] != 0 {
                x0 = min(x0, x); x1 = max(x1, x); y0 = min(y0, y); y1 = max(y1, y)
            }
        }
        return x1 < 0 ? nil : Box(Float(x0), Float(y0), Float(x1 + 1), Float(y1 + 1))
    }

    /// A flip, a resize (up or down), a random crop and a pad: every kept object's mask extent
    /// equals its box up to a pixel (a nearest resize moves a mask's edges by less than a pixel,
    /// so one resize is chained: two would compound the first one's error by the second's
    /// scale), and masks stay the image's size.
    func testMasksStayAlignedWithBoxes_ThroughCropFlipResizePad() throws {
        let data = RectangleSet(sizes: [(61, 47), (40, 72), (90, 55)])
        let transform = Compose([
            RandomHorizontalFlip(),
            RandomResize([40, 56, 72, 90], maxSize: 120),
            RandomSelect(RandomSizeCrop(24, 60), Identity(), p: 0.7),
        ])
        var checked = 0, cropped = 0
        for trial in 0..<40 {
            var rng = SplitMix64(seed: UInt64(trial))
            let original = try data.sample(at: trial % data.count)
            var s = try transform.apply(original, using: &rng)
            s = Functional.pad(s, right: 5 + trial % 3, bottom: trial % 4)
            s.target = s.target.droppingEmptyBoxes()
            let m = try XCTUnwrap(s.target.masks)
            XCTAssertEqual(m.count, s.target.count)
            XCTAssertEqual(m.height, s.image.height)
            XCTAssertEqual(m.width, s.image.width)
            if s.target.count < original.target.count { cropped += 1 }
            for (k, box) in s.target.boxes.enumerated() {
                let e = try XCTUnwrap(extent(m, k), "trial \(trial) object \(k): empty mask for box \(box)")
                for (a, b) in [(e.x1, box.x1), (e.y1, box.y1), (e.x2, box.x2), (e.y2, box.y2)] {
                    XCTAssertEqual(a, b, accuracy: 1.0, "trial \(trial) object \(k): mask extent \(e), box \(box)")
                }
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 60)
        XCTAssertGreaterThan(cropped, 0, "some crops should drop objects")
    }

    /// The batch's masks: image i's transformed masks in its area, zeros in the padding, one
    /// plane per kept object (aligned with the model target's boxes).
    func testBatchMasks_EqualUnpaddedInImageArea_ZeroOutside() throws {
        let data = RectangleSet(sizes: [(61, 47), (40, 72), (90, 55)])
        let transform = Compose([Resize(width: 53, height: 41), RandomHorizontalFlip(p: 1)])
        let loader = try DataLoader(dataset: data, transform: transform,
                                    options: LoaderOptions(batchSize: 3, shuffle: false, padToMultipleOf: 32))
        let padWidth = Compose([Resize(width: 70, height: 33)])
        let wide = try DataLoader(dataset: data, transform: RandomSelect(transform, padWidth, p: 0.5),
                                  options: LoaderOptions(batchSize: 3, shuffle: false, padToMultipleOf: 8))
        for l in [loader, wide] {
            let b = try XCTUnwrap(try l.epoch(0).next())
            let masks = try XCTUnwrap(b.masks)
            let hp = b.images.mask.shape[1], wp = b.images.mask.shape[2]
            XCTAssertEqual(masks.count, 3)
            for (i, t) in b.targets.enumerated() {
                let m = try XCTUnwrap(t.source.masks)
                XCTAssertEqual(masks[i].shape, [t.count, hp, wp])
                XCTAssertEqual(m.height, t.size.height)
                XCTAssertEqual(m.width, t.size.width)
                let v = masks[i].scalars
                var inside = 0, outsideNonZero = 0
                for k in 0..<t.count {
                    for y in 0..<hp {
                        for x in 0..<wp {
                            let p = v[(k * hp + y) * wp + x]
                            if y < m.height && x < m.width {
                                XCTAssertEqual(p, Float(m[k, x, y]))
                                inside += Int(p)
                            } else if p != 0 {
                                outsideNonZero += 1
                            }
                            // The padding mask says where the image is.
                            XCTAssertEqual(b.images.mask.values[(i * hp + y) * wp + x], !(y < m.height && x < m.width))
                        }
                    }
                }
                XCTAssertGreaterThan(inside, 0)
                XCTAssertEqual(outsideNonZero, 0)
            }
            // Padded further (a data-parallel shard): masks follow the images.
            let bigger = b.padded(toHeight: hp + 3, width: wp + 9)
            XCTAssertEqual(bigger.masks?[1].shape, [b.targets[1].count, hp + 3, wp + 9])
            XCTAssertEqual(bigger.masks?[1].scalars.reduce(0, +), masks[1].scalars.reduce(0, +))
        }
    }

    /// A transform that leaves masks at another size than the image is an error of the batch.
    struct ShrinkImageOnly: Transform {
        func apply(_ sample: Sample, using rng: inout SplitMix64) throws -> Sample {
            var s = sample
            s.image = RGBImage(width: sample.image.width - 1, height: sample.image.height)
            return s
        }
    }

    func testLoader_MasksOfAnotherSizeThanTheImage_Error() throws {
        let loader = try DataLoader(dataset: RectangleSet(sizes: [(30, 20)]), transform: ShrinkImageOnly(),
                                    options: LoaderOptions(batchSize: 1, shuffle: false))
        XCTAssertThrowsError(try loader.epoch(0).next()) {
            XCTAssertTrue("\($0)".contains("masks of 20x30 for an image of 20x29"), "\($0)")
        }
    }

    func testPaddedMasks_Errors() throws {
        let a = Target(boxes: [Box(0, 0, 2, 2)], labels: [0], masks: MaskStack(count: 1, height: 4, width: 4))
        let b = Target(boxes: [Box(0, 0, 2, 2)], labels: [0])
        XCTAssertNil(try NestedTensor.paddedMasks([b, b], height: 4, width: 4))
        XCTAssertThrowsError(try NestedTensor.paddedMasks([a, b], height: 4, width: 4)) {
            XCTAssertEqual($0 as? BatchError, .missingMasks(index: 1))
        }
        XCTAssertThrowsError(try NestedTensor.paddedMasks([a], height: 3, width: 4)) {
            XCTAssertTrue("\($0)".contains("exceed"), "\($0)")
        }
        let c = Target(boxes: [Box(0, 0, 2, 2), Box(0, 0, 1, 1)], labels: [0, 1], masks: MaskStack(count: 1, height: 4, width: 4))
        XCTAssertThrowsError(try NestedTensor.paddedMasks([c], height: 4, width: 4)) {
            XCTAssertTrue("\($0)".contains("1 masks for 2 objects"), "\($0)")
        }
    }
}
