import Datasets

/// The error analysis of box detections beyond the mAP: the per-class table, the confusion
/// matrix and TIDE's error breakdown, with the COCOeval result they were built beside.
public struct DetectionAnalysis: Sendable {
    public var coco: COCOEvalResult
    public var perClass: PerClassTable
    public var confusion: ConfusionMatrix
    public var tide: TIDEResult
    public var categories: [COCOCategory]

    /// Runs COCOeval (`params`, once) and the three analyses on the same data. The per-class
    /// precision, recall and F1 and the confusion matrix use `scoreThreshold`; the matrix
    /// matches at `confusionIoU`; TIDE uses its own defaults (positive IoU 0.5, background 0.1).
    public init(groundTruth gt: COCOInstances, results: [COCOResult], params: COCOEvalParams = COCOEvalParams(iouType: .bbox),
                scoreThreshold: Double = 0.25, confusionIoU: Double = 0.45, threads: Int = 0) throws {
        let (result, counts) = try COCOEvaluator(groundTruth: gt, results: results, params: params)
            .runCounting(scoreThreshold: scoreThreshold, threads: threads)
        coco = result
        perClass = PerClassTable(result: result, counts: counts, categories: gt.categories, scoreThreshold: scoreThreshold)
        confusion = ConfusionMatrix(groundTruth: gt, results: results, scoreThreshold: scoreThreshold, iouThreshold: confusionIoU)
        tide = try TIDE.evaluate(groundTruth: gt, results: results)
        categories = gt.categories
    }

    /// The files of an analysis folder, name and contents: tide.json, per_class.csv,
    /// confusion.csv (counts) and confusion_normalised.csv (per column).
    public var files: [(name: String, text: String)] {
        [("tide.json", tide.json + "\n"), ("per_class.csv", perClass.csv),
         ("confusion.csv", confusion.csv(categories: categories)),
         ("confusion_normalised.csv", confusion.csv(categories: categories, normalised: true))]
    }

    /// What the tools print: the per-class table, TIDE's summary and a line on why TIDE's AP
    /// differs from COCOeval's AP50.
    public var summaryText: String {
        let ap50 = coco.stats.count > 1 ? coco.stats[1] * 100 : -1
        return perClass.text + "\nTIDE errors (tidecv's rules, IoU 0.5)\n" + tide.summaryText
            + "TIDE's AP \(formatFixed(tide.ap, 2)) vs COCOeval's AP50 \(formatFixed(ap50, 2)): TIDE averages over every class "
            + "with ground truth or detections (a class with detections but no ground truth counts as 0) where COCOeval "
            + "averages only over classes with ground truth, and it matches greedily by score without area ranges.\n"
    }
}
