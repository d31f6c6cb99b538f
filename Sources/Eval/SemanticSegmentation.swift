import Datasets
import Foundation

/// An error of the semantic-segmentation evaluation, naming the image (its file or name).
public enum SemanticSegmentationError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The two label maps of an image differ in size.
    case sizeMismatch(image: String, groundTruth: String, prediction: String)
    /// A ground-truth label that is neither a class (0 ..< classCount) nor the void index.
    case groundTruthOutOfRange(image: String, value: Int, x: Int, y: Int, classCount: Int, ignoreIndex: Int)
    /// A predicted label outside 0 ..< classCount where the ground truth is not void.
    case predictionOutOfRange(image: String, value: Int, x: Int, y: Int, classCount: Int)
    /// A ground-truth label map without the prediction of the same stem.
    case missingPrediction(groundTruth: String, expected: String)
    /// A ground-truth folder without any PNG.
    case noGroundTruth(folder: String)

    public var description: String {
        switch self {
        case let .sizeMismatch(image, gt, pred):
            return "\(image): the prediction is \(pred), the ground truth \(gt)"
        case let .groundTruthOutOfRange(image, value, x, y, classes, ignore):
            return "\(image): ground-truth label \(value) at (x \(x), y \(y)) is neither a class (0 to \(classes - 1)) nor void (\(ignore))"
        case let .predictionOutOfRange(image, value, x, y, classes):
            return "\(image): predicted label \(value) at (x \(x), y \(y)) is not a class (0 to \(classes - 1))"
        case let .missingPrediction(gt, expected):
            return "\(expected): no such prediction (for the ground truth \(gt))"
        case let .noGroundTruth(folder):
            return "\(folder): no ground-truth label PNGs (*.png)"
        }
    }
}

/// The pixel confusion matrix of semantic segmentation, accumulated over images: entry
/// `(g, p)` counts the pixels of ground-truth class `g` predicted as `p`. Ground-truth pixels
/// holding `ignoreIndex` (void, 255 in VOC) are left out whatever their prediction, as
/// mmsegmentation's `intersect_and_union` does; every other ground-truth label must be a class
/// (`0 ..< classCount`) and so must its prediction, or `add` throws naming the image.
public struct SemanticConfusion: Sendable, Equatable {
    public let classCount: Int
    public let ignoreIndex: Int
    /// `classCount * classCount` counts, row = ground truth, column = prediction.
    public private(set) var counts: [Int]
    public private(set) var imageCount = 0

    /// `classCount` in 1 ... 65536; `ignoreIndex` may be any value (one at or above
    /// `classCount` keeps classes and void apart; a class index makes that class void).
    public init(classCount: Int, ignoreIndex: Int = 255) {
        self.classCount = max(1, classCount)
        self.ignoreIndex = ignoreIndex
        counts = [Int](repeating: 0, count: self.classCount * self.classCount)
    }

    /// A matrix of known counts (`classCount * classCount`, row = ground truth, e.g. the sums of
    /// the processes of a data-parallel run); nil when `counts` has another length or a negative
    /// entry, or `classCount` is not in 1 ... 65536.
    public init?(classCount: Int, ignoreIndex: Int = 255, counts: [Int], imageCount: Int) {
        guard (1...65536).contains(classCount), counts.count == classCount * classCount,
              counts.allSatisfy({ $0 >= 0 }), imageCount >= 0 else { return nil }
        self.classCount = classCount
        self.ignoreIndex = ignoreIndex
        self.counts = counts
        self.imageCount = imageCount
    }

    public subscript(groundTruth g: Int, prediction p: Int) -> Int { counts[g * classCount + p] }

    /// Adds one image's label maps (row-major, the same `width * height` pixels each); `image`
    /// names it in errors. Nothing is added when it throws.
    public mutating func add(groundTruth gt: [UInt8], prediction pred: [UInt8], width: Int, image: String) throws {
        guard gt.count == pred.count else {
            throw SemanticSegmentationError.sizeMismatch(image: image, groundTruth: "\(gt.count) pixels", prediction: "\(pred.count) pixels")
        }
        // One pass without a branch per pixel: a 256 x 256 histogram of (label, prediction)
        // pairs, folded into the classes' matrix and checked afterwards.
        var pairs = [Int](repeating: 0, count: 65536)
        gt.withUnsafeBufferPointer { g in
            pred.withUnsafeBufferPointer { p in
                pairs.withUnsafeMutableBufferPointer { h in
                    for i in 0..<g.count { h[Int(g[i]) &<< 8 | Int(p[i])] &+= 1 }
                }
            }
        }
        var bad = false
        for g in 0..<256 where g != ignoreIndex && !bad {
            for p in 0..<256 where pairs[g << 8 | p] > 0 && (g >= classCount || p >= classCount) {
                bad = true
                break
            }
        }
        if bad {
            // The first offending pixel, found again one by one for the error's position.
            try Self.checkRange(gt.lazy.map(Int.init), pred.lazy.map(Int.init), width: width, image: image,
                                classCount: classCount, ignoreIndex: ignoreIndex)
        }
        let c = classCount
        for g in 0..<min(c, 256) where g != ignoreIndex {
            for p in 0..<min(c, 256) { counts[g * c + p] += pairs[g << 8 | p] }
        }
        imageCount += 1
    }

    /// Adds one image's label maps held as integers (any range); see the `UInt8` form.
    public mutating func add(groundTruth gt: [Int], prediction pred: [Int], width: Int, image: String) throws {
        guard gt.count == pred.count else {
            throw SemanticSegmentationError.sizeMismatch(image: image, groundTruth: "\(gt.count) pixels", prediction: "\(pred.count) pixels")
        }
        let c = classCount, ignore = ignoreIndex
        var local = [Int](repeating: 0, count: c * c)
        for i in 0..<gt.count {
            let g = gt[i]
            if g == ignore { continue }
            let p = pred[i]
            guard g >= 0 && g < c && p >= 0 && p < c else {
                try Self.checkRange(gt, pred, width: width, image: image, classCount: c, ignoreIndex: ignore)
                break
            }
            local[g * c + p] += 1
        }
        for k in 0..<counts.count { counts[k] += local[k] }
        imageCount += 1
    }

    /// Throws for the first pixel (row-major) whose ground-truth label is neither void nor a
    /// class, or whose prediction is not a class where the ground truth is not void.
    static func checkRange<G: Collection<Int>, P: Collection<Int>>(_ gt: G, _ pred: P, width: Int, image: String,
                                                                   classCount c: Int, ignoreIndex: Int) throws {
        let w = max(1, width)
        for (i, (g, p)) in zip(gt, pred).enumerated() where g != ignoreIndex {
            guard g >= 0 && g < c else {
                throw SemanticSegmentationError.groundTruthOutOfRange(image: image, value: g, x: i % w, y: i / w,
                                                                      classCount: c, ignoreIndex: ignoreIndex)
            }
            guard p >= 0 && p < c else {
                throw SemanticSegmentationError.predictionOutOfRange(image: image, value: p, x: i % w, y: i / w, classCount: c)
            }
        }
    }

    /// Adds two decoded label maps of one image; a size mismatch is an error naming `image`.
    public mutating func add(groundTruth gt: IndexedImage, prediction pred: IndexedImage, image: String) throws {
        guard gt.width == pred.width, gt.height == pred.height else {
            throw SemanticSegmentationError.sizeMismatch(image: image, groundTruth: "\(gt.width)x\(gt.height)",
                                                         prediction: "\(pred.width)x\(pred.height)")
        }
        try add(groundTruth: gt.indices, prediction: pred.indices, width: gt.width, image: image)
    }

    /// Adds another matrix of the same classes (per-thread matrices merged).
    public mutating func merge(_ other: SemanticConfusion) {
        precondition(other.classCount == classCount, "SemanticConfusion.merge: \(other.classCount) classes into \(classCount)")
        for k in 0..<counts.count { counts[k] += other.counts[k] }
        imageCount += other.imageCount
    }

    /// The scores of the matrix.
    public var result: SemanticSegmentationResult { SemanticSegmentationResult(confusion: self) }
}

/// The scores of one class.
public struct SemanticClassScores: Sendable, Equatable {
    /// Pixels of the class in the ground truth (TP + FN), predicted as it (TP + FP), and both (TP).
    public var groundTruthPixels: Int
    public var predictedPixels: Int
    public var intersection: Int
    /// TP + FP + FN.
    public var union: Int { groundTruthPixels + predictedPixels - intersection }
    /// TP / (TP + FP + FN); NaN when the class is in neither the ground truth nor the prediction.
    public var iou: Double { Double(intersection) / Double(union) }
    /// TP / (TP + FN), the class's recall of pixels; NaN when the class is absent from the ground truth.
    public var accuracy: Double { Double(intersection) / Double(groundTruthPixels) }
}

/// mmsegmentation's metrics of a pixel confusion matrix (fractions in [0, 1]).
///
/// Per class IoU = TP / (TP + FP + FN) and accuracy = TP / (TP + FN), NaN where the
/// denominator is 0; mIoU and mAcc are their means over the classes where they are defined
/// (NumPy's nanmean, as mmsegmentation's `total_area_to_metrics` and its summary do): a class
/// absent from both ground truth and prediction is left out of mIoU, a class absent from the
/// ground truth out of mAcc (a class only predicted has IoU 0 and counts). aAcc is the
/// fraction of non-void pixels predicted right; fwIoU weighs each class's IoU by its share of
/// the ground-truth pixels (FCN's frequency-weighted IoU). With no non-void pixel all are NaN.
public struct SemanticSegmentationResult: Sendable, Equatable {
    public var classCount: Int
    public var imageCount: Int
    public var perClass: [SemanticClassScores]
    public var meanIoU: Double
    public var pixelAccuracy: Double
    public var meanAccuracy: Double
    public var frequencyWeightedIoU: Double
    /// Non-void ground-truth pixels.
    public var pixelCount: Int

    public init(confusion m: SemanticConfusion) {
        let c = m.classCount
        var gtPixels = [Int](repeating: 0, count: c), predPixels = [Int](repeating: 0, count: c)
        for g in 0..<c {
            for p in 0..<c {
                let n = m.counts[g * c + p]
                gtPixels[g] += n
                predPixels[p] += n
            }
        }
        perClass = (0..<c).map {
            SemanticClassScores(groundTruthPixels: gtPixels[$0], predictedPixels: predPixels[$0], intersection: m.counts[$0 * c + $0])
        }
        classCount = c
        imageCount = m.imageCount
        let total = gtPixels.reduce(0, +)
        pixelCount = total
        func nanMean(_ xs: [Double]) -> Double {
            let defined = xs.filter { !$0.isNaN }
            return defined.isEmpty ? .nan : defined.reduce(0, +) / Double(defined.count)
        }
        meanIoU = nanMean(perClass.map(\.iou))
        meanAccuracy = nanMean(perClass.map(\.accuracy))
        pixelAccuracy = Double(perClass.reduce(0) { $0 + $1.intersection }) / Double(total)
        var fw = 0.0
        for s in perClass where s.groundTruthPixels > 0 { fw += Double(s.groundTruthPixels) / Double(total) * s.iou }
        frequencyWeightedIoU = total > 0 ? fw : .nan
    }
}

extension SemanticSegmentationResult {
    /// The name of class `i`: `names[i]` when given and non-nil, else its index.
    static func name(_ i: Int, _ names: [String?]) -> String {
        (i < names.count ? names[i] : nil) ?? String(i)
    }

    /// mmsegmentation's per-class table (IoU and Acc in percent, 2 decimals, "nan" where
    /// undefined) with the ground-truth and predicted pixels, then the summary lines.
    public func text(classNames: [String?] = []) -> String {
        func pct(_ v: Double) -> String { v.isNaN ? "nan" : String(format: "%.2f", 100 * v) }
        let header = ["Class", "IoU", "Acc", "GT pixels", "predicted"]
        let body = [header] + perClass.enumerated().map { i, s in
            [Self.name(i, classNames), pct(s.iou), pct(s.accuracy), String(s.groundTruthPixels), String(s.predictedPixels)]
        }
        var widths = [Int](repeating: 0, count: header.count)
        for row in body { for (j, cell) in row.enumerated() { widths[j] = max(widths[j], cell.count) } }
        var out = "per class results:\n"
        for row in body {
            out += row.enumerated().map { j, cell in
                let pad = String(repeating: " ", count: widths[j] - cell.count)
                return j == 0 ? cell + pad : pad + cell
            }.joined(separator: "  ") + "\n"
        }
        out += "mIoU = \(pct(meanIoU))\n"
        out += "aAcc = \(pct(pixelAccuracy))\n"
        out += "mAcc = \(pct(meanAccuracy))\n"
        out += "fwIoU = \(pct(frequencyWeightedIoU))\n"
        return out
    }

    /// Every number as JSON, fractions in [0, 1] (null where undefined):
    /// `{"mIoU", "aAcc", "mAcc", "fwIoU", "n_images", "pixels", "per_class": {name: {"iou", "acc",
    /// "id", "gt_pixels", "pred_pixels", "intersection"}}}`; a repeated name is suffixed with its id.
    public func jsonText(classNames: [String?] = []) -> String {
        var s = "{\n  \"mIoU\": \(jsonNumber(meanIoU)),\n  \"aAcc\": \(jsonNumber(pixelAccuracy)),\n"
        s += "  \"mAcc\": \(jsonNumber(meanAccuracy)),\n  \"fwIoU\": \(jsonNumber(frequencyWeightedIoU)),\n"
        s += "  \"n_images\": \(imageCount),\n  \"pixels\": \(pixelCount),\n  \"per_class\": {"
        var seen = Set<String>()
        for (i, c) in perClass.enumerated() {
            var name = Self.name(i, classNames)
            if seen.contains(name) { name += " (id \(i))" }
            seen.insert(name)
            s += i == 0 ? "\n" : ",\n"
            s += "    \(jsonString(name)): {\"iou\": \(jsonNumber(c.iou)), \"acc\": \(jsonNumber(c.accuracy)), \"id\": \(i), "
            s += "\"gt_pixels\": \(c.groundTruthPixels), \"pred_pixels\": \(c.predictedPixels), \"intersection\": \(c.intersection)}"
        }
        s += perClass.isEmpty ? "}\n}\n" : "\n  }\n}\n"
        return s
    }
}

extension SemanticConfusion {
    /// The confusion of two folders of label PNGs (palette indices or 8-bit gray, read by
    /// `ImageIO.loadIndexed`): every `*.png` of `groundTruthFolder` against the PNG of the same
    /// stem in `predictionFolder` (extra predictions are not read), images read and counted on
    /// `threads` threads. A missing prediction, an unreadable or non-indexed PNG, a size
    /// mismatch or a label out of range is an error naming the file.
    public static func evaluateFolders(groundTruthFolder: String, predictionFolder: String, classCount: Int,
                                       ignoreIndex: Int = 255,
                                       threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                                       progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> SemanticConfusion {
        let names = try FileIO.listDirectory(groundTruthFolder).filter { $0.lowercased().hasSuffix(".png") }
        guard !names.isEmpty else { throw SemanticSegmentationError.noGroundTruth(folder: groundTruthFolder) }
        var pairs: [(gt: String, pred: String)] = []
        for name in names {
            let gt = FileIO.join(groundTruthFolder, name)
            let pred = FileIO.join(predictionFolder, String(name.dropLast(4)) + ".png")
            guard FileIO.isFile(pred) else { throw SemanticSegmentationError.missingPrediction(groundTruth: gt, expected: pred) }
            pairs.append((gt, pred))
        }
        let frozen = pairs
        let count = frozen.count
        let workers = max(1, min(threads, count))
        let results = UnsafeMutableBufferPointer<Result<SemanticConfusion, Error>?>.allocate(capacity: workers)
        results.initialize(repeating: nil)
        defer { results.deallocate() }
        nonisolated(unsafe) let out = results
        let lock = NSLock()
        nonisolated(unsafe) var next = 0
        nonisolated(unsafe) var done = 0
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var local = SemanticConfusion(classCount: classCount, ignoreIndex: ignoreIndex)
            out[worker] = Result {
                while true {
                    lock.lock()
                    let i = next
                    next += 1
                    lock.unlock()
                    if i >= count { break }
                    let gt = try ImageIO.loadIndexed(frozen[i].gt)
                    let pred = try ImageIO.loadIndexed(frozen[i].pred)
                    do {
                        try local.add(groundTruth: gt, prediction: pred, image: frozen[i].pred)
                    } catch let SemanticSegmentationError.groundTruthOutOfRange(_, value, x, y, classes, ignore) {
                        throw SemanticSegmentationError.groundTruthOutOfRange(image: frozen[i].gt, value: value, x: x, y: y,
                                                                              classCount: classes, ignoreIndex: ignore)
                    }
                    lock.lock()
                    done += 1
                    let d = done
                    lock.unlock()
                    progress?(d, count)
                }
                return local
            }
            if case .failure = out[worker]! {
                lock.lock()
                next = count  // the others stop at their next image
                lock.unlock()
            }
        }
        var total = SemanticConfusion(classCount: classCount, ignoreIndex: ignoreIndex)
        for w in 0..<workers { total.merge(try results[w]!.get()) }
        return total
    }
}
