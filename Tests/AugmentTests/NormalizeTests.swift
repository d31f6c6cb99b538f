import Augment
import Base
import Datasets
import Tensor
import XCTest

final class NormalizeTests: XCTestCase {
    func testNormalize_ValuesAndCxcywhBoxes() {
        var img = RGBImage(width: 4, height: 2)
        img[1, 0] = (255, 0, 128)
        let s = Sample(image: img, target: Target(boxes: [Box(0, 0, 2, 1)], labels: [3]), path: "x")
        let t = Normalization.imageNet(s)
        XCTAssertEqual(t.image.shape, [3, 2, 4])
        let v = scalars(t.image)
        XCTAssertEqual(v[1], (1 - 0.485) / 0.229, accuracy: 1e-6)
        XCTAssertEqual(v[8 + 1], (0 - 0.456) / 0.224, accuracy: 1e-6)
        XCTAssertEqual(v[16 + 1], (Float(128) / 255 - 0.406) / 0.225, accuracy: 1e-6)
        XCTAssertEqual(v[0], (0 - 0.485) / 0.229, accuracy: 1e-6)
        XCTAssertEqual(t.target.boxes, [0.25, 0.25, 0.5, 0.5])
        XCTAssertEqual(t.target.labels, [3])
        XCTAssertTrue(t.target.size == (2, 4))
    }

    func testPresets_BuildAndRunOnASample() throws {
        let s = patternSample(width: 64, height: 48, boxes: [Box(5, 5, 30, 40)])
        for preset in Preset.allCases {
            var rng = SplitMix64(seed: 5)
            let train = try preset.train(inputSize: 128).apply(s, using: &rng)
            let val = try preset.validation(inputSize: 128).apply(s, using: &rng)
            XCTAssertEqual(train.target.labels.count, train.target.boxes.count, "\(preset)")
            switch preset {
            case .detr:
                // DETR's sizes scaled by 128 / 800: shorter side 77...128, longer at most 213.
                XCTAssertEqual(Preset.detrScales(forInputSize: 128), [77, 82, 87, 92, 97, 102, 108, 113, 118, 123, 128])
                XCTAssertEqual(Preset.maxSize(forInputSize: 128), 213)
                XCTAssertTrue(Preset.detrScales(forInputSize: 128).contains(min(train.image.width, train.image.height))
                              || max(train.image.width, train.image.height) <= 213)
                // Shorter side 128: 64x48 -> int(128 * 64 / 48) x 128.
                XCTAssertEqual([val.image.width, val.image.height], [170, 128])
                let full = try preset.validation().apply(s, using: &rng)
                XCTAssertEqual([full.image.width, full.image.height], [1066, 800])
            case .reference:
                XCTAssertEqual([train.image.width, train.image.height], [128, 128])
                XCTAssertEqual([val.image.width, val.image.height], [128, 128])
            case .none:
                XCTAssertEqual(train, s)
                XCTAssertEqual(val, s)
            case .flip:
                // The image or its mirror image (boxes mirrored with it), at its own size.
                XCTAssertEqual(val, s)
                let mirrored = try RandomHorizontalFlip(p: 1).apply(s, using: &rng)
                XCTAssertEqual(mirrored.target.boxes, [Box(34, 5, 59, 40)])
                XCTAssertTrue(train == s || train == mirrored, "\(train.target.boxes)")
            }
        }
    }
}
