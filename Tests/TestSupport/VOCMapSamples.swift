import Base
import Eval

/// VOC mAP inputs shared by the tests of the metric (Eval) and of its figures (Plots).
public enum VOCMapSamples {
    public static func object(_ cls: String, _ l: Double, _ t: Double, _ r: Double, _ b: Double,
                              difficult: Bool = false) -> VOCGroundTruthObject {
        VOCGroundTruthObject(className: cls, left: l, top: t, right: r, bottom: b, difficult: difficult)
    }

    /// `images` images of 1-4 objects of three classes, each with a jittered detection and a
    /// random one, scores uniform; the same seed gives the same input.
    public static func synthetic(images: Int = 20, seed: UInt64 = 1) -> VOCMapInput {
        var rng = SplitMix64(seed: seed)
        var gts: [[VOCGroundTruthObject]] = []
        var dets: [[VOCDetection]] = []
        for _ in 0..<images {
            var g: [VOCGroundTruthObject] = []
            var d: [VOCDetection] = []
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let cls = ["cat", "dog", "bird"][Int(rng.next() % 3)]
                let l = Double(rng.next() % 200), t = Double(rng.next() % 200)
                let w = Double(10 + rng.next() % 100), h = Double(10 + rng.next() % 100)
                g.append(object(cls, l, t, l + w, t + h))
                // A jittered detection and a random one.
                let j = Double(rng.next() % 12)
                d.append(VOCDetection(className: cls, score: Double(rng.next() % 1_000_000) / 1e6, left: l + j, top: t,
                                      right: l + w + j, bottom: t + h))
                d.append(VOCDetection(className: cls, score: Double(rng.next() % 1_000_000) / 1e6, left: Double(rng.next() % 300),
                                      top: Double(rng.next() % 300), right: 350, bottom: 350))
            }
            gts.append(g)
            dets.append(d)
        }
        return VOCMapInput(imageIDs: (0..<images).map { "img\($0)" }, groundTruth: gts, detections: dets)
    }
}
