import Datasets
import Foundation

/// What TIDE compares: boxes or masks (tidecv's `TIDE.BOX` and `TIDE.MASK`, named as it names
/// them in its summary).
public enum TIDEMode: String, Sendable {
    case box = "bbox"
    case mask = "mask"
}

/// TIDE's settings (tidecv's `TIDE(pos_threshold, background_threshold)`, `evaluate`'s mode and
/// the COCO loader's `max_dets`).
public struct TIDEParams: Equatable, Sendable {
    /// IoU at which a detection is a true positive (`pos_thresh`, compared with `>=`).
    public var positiveThreshold: Double = 0.5
    /// IoU at or below which a detection is on the background (`bg_thresh`).
    public var backgroundThreshold: Double = 0.1
    /// Detections kept per image, highest scores first (tidecv's COCO loader: 100).
    public var maxDets: Int = 100
    /// Box or mask IoU.
    public var mode: TIDEMode = .box

    public init(positiveThreshold: Double = 0.5, backgroundThreshold: Double = 0.1, maxDets: Int = 100, mode: TIDEMode = .box) {
        self.positiveThreshold = positiveThreshold
        self.backgroundThreshold = backgroundThreshold
        self.maxDets = maxDets
        self.mode = mode
    }
}

/// TIDE's six main error types, in tidecv's order, named by its short names.
public enum TIDEErrorKind: String, CaseIterable, Sendable {
    /// Right box (IoU >= positive threshold with a ground truth), wrong class.
    case classification = "Cls"
    /// Right class, box IoU in [background, positive] with a ground truth of that class.
    case localization = "Loc"
    /// Wrong class and a poor box: none of the others.
    case both = "Both"
    /// Right class and box, but the ground truth was already taken by a higher score.
    case duplicate = "Dupe"
    /// IoU <= background threshold with every ground truth of the image.
    case background = "Bkg"
    /// A ground truth that no detection matched and no classification or localisation fix reaches.
    case missed = "Miss"
}

/// TIDE's error breakdown (Bolya et al., ECCV 2020) with tidecv 1.0.1's rules, for boxes or
/// masks (every IoU below is then pycocotools' mask IoU: ground-truth masks as tidecv's COCO
/// loader makes them, polygons on the image's size; result masks from their `segmentation`):
///
/// - Matching per image: detections sorted by score (stable) and cut at `maxDets`; each in turn
///   takes the not yet taken ground truth of its class with the highest IoU (the first on ties)
///   when that IoU >= the positive threshold. Crowds are ignore regions: an unmatched detection
///   of the same class whose crowd IoU (intersection over its own area) is > the positive
///   threshold is left out of the AP (but still classified as an error).
/// - AP per class: COCO's 101-point interpolation of the score-sorted precision-recall curve
///   (without COCOeval's eps), 0-100. The mean runs over every class that has ground truth or
///   detections: a class with detections and no ground truth counts as 0 (COCOeval skips it).
/// - Each error type's dAP is the mean AP with only that type fixed minus the mean AP, floored
///   at 0: classification / localisation errors become true positives (only the highest-scored
///   fix per ground truth; the others are removed), duplicate / background / both errors are
///   removed, missed ground truths are removed from the count. False-positive dAP: every false
///   positive scored below every true positive; false-negative dAP: every unmatched ground
///   truth removed from the count (both not floored).
public enum TIDE {
    /// Runs TIDE on ground truth and detections (boxes: both need `bbox`; masks: both need
    /// `segmentation`). Detections of images absent from the ground truth are left out, as
    /// tidecv does.
    public static func evaluate(groundTruth: COCOInstances, results: [COCOResult],
                                params: TIDEParams = TIDEParams()) throws -> TIDEResult {
        let shapes = try TIDEShapes(groundTruth: groundTruth, results: results, mode: params.mode)
        let run = TIDERun(groundTruth: groundTruth, results: results, params: params, shapes: shapes)
        let ap = run.original.meanAP()
        var errors: [TIDEErrorKind: Double] = [:]
        var counts: [TIDEErrorKind: Int] = [:]
        for kind in TIDEErrorKind.allCases {
            errors[kind] = max(run.fixed(where: { $0.kind == kind }).meanAP() - ap, 0)
            counts[kind] = run.errors.count { $0.kind == kind }
        }
        let falsePositive = run.fixed(where: { _ in false }, transform: { TIDEPoint(score: $0.correct ? 1 : 0, correct: $0.correct) }).meanAP() - ap
        let falseNegative = run.fixed(where: { _ in false }, removingFalseNegatives: true).meanAP() - ap
        return TIDEResult(params: params, ap: ap, errors: errors, falsePositive: falsePositive,
                          falseNegative: falseNegative, counts: counts)
    }
}

/// What TIDE reports: its AP and the dAP of each error type, all on a 0-100 scale.
public struct TIDEResult: Sendable {
    public var params: TIDEParams
    /// TIDE's mean AP at the positive threshold (its own class averaging; see `TIDE`).
    public var ap: Double
    /// dAP gained by fixing each main error type alone.
    public var errors: [TIDEErrorKind: Double]
    /// dAP with perfect precision (every false positive scored below every true positive).
    public var falsePositive: Double
    /// dAP with perfect recall (every unmatched ground truth removed).
    public var falseNegative: Double
    /// Number of errors of each type.
    public var counts: [TIDEErrorKind: Int]

    /// tidecv's `summarize()` tables as plain lines: the AP, the main and the special errors.
    public var summaryText: String {
        let kinds = TIDEErrorKind.allCases
        func cell(_ s: String) -> String { String(repeating: " ", count: max(0, 8 - s.count)) + s }
        func value(_ v: Double) -> String { cell(formatFixed(v, 2)) }
        var out = "\(params.mode.rawValue) AP @ \(Int((params.positiveThreshold * 100).rounded())): \(formatFixed(ap, 2))\n"
        out += "Main errors (dAP)\n"
        out += "  Type" + kinds.map { cell($0.rawValue) }.joined() + "\n"
        out += "   dAP" + kinds.map { value(errors[$0] ?? 0) }.joined() + "\n"
        out += " count" + kinds.map { cell(String(counts[$0] ?? 0)) }.joined() + "\n"
        out += "Special errors (dAP)\n"
        out += "  Type  FalsePos  FalseNeg\n"
        out += "   dAP" + "  " + value(falsePositive) + "  " + value(falseNegative) + "\n"
        return out
    }

    /// `{"ap": x, "pos_threshold": t, "bg_threshold": b, "main": {"Cls": x, ...},
    /// "special": {"FalsePos": x, "FalseNeg": x}, "counts": {"Cls": n, ...}}`, 0-100 scale.
    public var json: String {
        let kinds = TIDEErrorKind.allCases
        let main = kinds.map { "\"\($0.rawValue)\": \(errors[$0] ?? 0)" }.joined(separator: ", ")
        let count = kinds.map { "\"\($0.rawValue)\": \(counts[$0] ?? 0)" }.joined(separator: ", ")
        return "{\"mode\": \"\(params.mode.rawValue)\", \"ap\": \(ap), \"pos_threshold\": \(params.positiveThreshold), \"bg_threshold\": \(params.backgroundThreshold), "
            + "\"main\": {\(main)}, \"special\": {\"FalsePos\": \(falsePositive), \"FalseNeg\": \(falseNegative)}, "
            + "\"counts\": {\(count)}}"
    }
}

/// `value` with `digits` decimals (as Python's "{:.2f}").
func formatFixed(_ value: Double, _ digits: Int) -> String {
    String(format: "%.\(digits)f", value)
}
