import Augment
import Base
import Datasets
import Foundation
import Tensor

/// A deterministic test image with structure in every channel.
func patternImage(width: Int, height: Int, seed: UInt64 = 1) -> RGBImage {
    var img = RGBImage(width: width, height: height)
    var rng = SplitMix64(seed: seed)
    for y in 0..<height {
        for x in 0..<width {
            img[x, y] = (UInt8((x * 7 + y) % 256), UInt8((y * 5) % 256), UInt8(rng.nextInt(below: 256)))
        }
    }
    return img
}

/// A sample with boxes, labels and one rectangular mask per box.
func patternSample(width: Int, height: Int, boxes: [Box], seed: UInt64 = 1) -> Sample {
    var masks = MaskStack(count: boxes.count, height: height, width: width)
    for (k, b) in boxes.enumerated() {
        for y in Int(b.y1)..<Int(b.y2) {
            for x in Int(b.x1)..<Int(b.x2) { masks[k, x, y] = 1 }
        }
    }
    let target = Target(boxes: boxes, labels: Array(0..<boxes.count), masks: masks, imageId: 7, originalSize: (height, width))
    return Sample(image: patternImage(width: width, height: height, seed: seed), target: target, path: "pattern-\(seed)")
}

/// An in-memory data set of pattern images of varied sizes; `failing` indices throw an error
/// naming a fake file.
struct PatternDataset: DetectionDataset {
    var count: Int
    var failing: Set<Int> = []

    func imagePath(at index: Int) -> String { "/fake/image_\(index).jpg" }

    func sample(at index: Int) throws -> Sample {
        if failing.contains(index) {
            throw DatasetError.corruptImage(path: imagePath(at: index), format: "JPEG", reason: "test failure")
        }
        let w = 40 + (index * 13) % 50, h = 30 + (index * 7) % 40
        var s = patternSample(width: w, height: h, boxes: [Box(2, 3, Float(w / 2), Float(h / 2)), Box(5, 5, 5, 9)],
                              seed: UInt64(index))
        s.path = imagePath(at: index)
        s.target.imageId = Int64(index)
        return s
    }
}

/// The bytes of a tensor, to compare batches exactly.
func scalars(_ t: Tensor) -> [Float] { Array(UnsafeBufferPointer(start: t.data, count: t.count)) }
