import Datasets

/// The error analysis of box or mask detections beyond the mAP: the per-class table, the
/// confusion matrix and TIDE's error breakdown, the precision-recall and F1 curves and the
/// images with the most errors, with the COCOeval result they were built beside. With
/// `params.iouType` segm every IoU is a mask IoU (COCOeval's, the matrix's and TIDE's mask mode).
public struct DetectionAnalysis: Sendable {
    public var coco: COCOEvalResult
    public var perClass: PerClassTable
    public var confusion: ConfusionMatrix
    public var tide: TIDEResult
    public var categories: [COCOCategory]
    /// Precision against recall at IoU 0.5 (COCOeval's precision array).
    public var precisionRecall: ClassCurves
    /// F1 against the score threshold at IoU 0.5.
    public var f1: ClassCurves
    /// Per image: false positives and negatives at IoU 0.5 and the score threshold.
    public var images: [COCOImageCounts]

    /// Runs COCOeval (`params`, once) and the analyses on the same data. The per-class
    /// precision, recall and F1, the per-image counts and the confusion matrix use
    /// `scoreThreshold`; the matrix matches at `confusionIoU`; TIDE uses its own defaults
    /// (positive IoU 0.5, background 0.1), on masks when `params.iouType` is segm.
    public init(groundTruth gt: COCOInstances, results: [COCOResult], params: COCOEvalParams = COCOEvalParams(iouType: .bbox),
                scoreThreshold: Double = 0.25, confusionIoU: Double = 0.45, threads: Int = 0) throws {
        let tally = try COCOEvaluator(groundTruth: gt, results: results, params: params)
            .runTallying(scoreThreshold: scoreThreshold, threads: threads)
        coco = tally.result
        perClass = PerClassTable(result: tally.result, counts: tally.categories, categories: gt.categories, scoreThreshold: scoreThreshold)
        confusion = ConfusionMatrix(groundTruth: gt, results: results, scoreThreshold: scoreThreshold, iouThreshold: confusionIoU,
                                    iouType: params.iouType)
        tide = try TIDE.evaluate(groundTruth: gt, results: results,
                                 params: TIDEParams(mode: params.iouType == .segm ? .mask : .box))
        categories = gt.categories
        precisionRecall = ClassCurves.precisionRecall(tally.result)
        f1 = ClassCurves.f1(tally.scored)
        images = tally.images
    }

    /// The `count` images with the most errors (false positives + false negatives), most first
    /// (ties by image id); images without errors are left out.
    public func worstImages(_ count: Int = 20) -> [COCOImageCounts] {
        let sorted = images.filter { $0.errors > 0 }.sorted { a, b in
            a.errors != b.errors ? a.errors > b.errors : a.imageId < b.imageId
        }
        return Array(sorted.prefix(max(0, count)))
    }

    /// The files of an analysis folder, name and contents: tide.json, per_class.csv,
    /// confusion.csv (counts) and confusion_normalised.csv (per column).
    public var files: [(name: String, text: String)] {
        [("tide.json", tide.json + "\n"), ("per_class.csv", perClass.csv),
         ("confusion.csv", confusion.csv(categories: categories)),
         ("confusion_normalised.csv", confusion.csv(categories: categories, normalised: true))]
    }

    /// COCOeval's AP50 on TIDE's 0-100 scale (-100 when COCOeval has no AP50 line).
    public var cocoAP50: Double {
        coco.stats.count > 1 ? coco.stats[1] * 100 : -100
    }

    /// The sentence on why TIDE's AP differs from COCOeval's AP50; nil when the two, as printed
    /// with two decimals, are equal.
    public var tideDifference: String? {
        let ap50 = cocoAP50
        guard formatFixed(tide.ap, 2) != formatFixed(ap50, 2) else { return nil }
        return "TIDE's AP \(formatFixed(tide.ap, 2)) vs COCOeval's AP50 \(formatFixed(ap50, 2)): TIDE averages over every class "
            + "with ground truth or detections (a class with detections but no ground truth counts as 0) where COCOeval "
            + "averages only over classes with ground truth, and it matches greedily by score without area ranges."
    }

    /// What the tools print: the per-class table, TIDE's summary and, when they differ, a line
    /// on why TIDE's AP differs from COCOeval's AP50.
    public var summaryText: String {
        perClass.text + "\nTIDE errors (tidecv's rules, IoU 0.5)\n" + tide.summaryText + (tideDifference.map { $0 + "\n" } ?? "")
    }
}
