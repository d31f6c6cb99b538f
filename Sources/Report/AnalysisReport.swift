import Datasets
import Eval
import Foundation
import Plots

/// `report.html`: one self-contained page of the error analysis (`DetectionAnalysis`), with
/// every figure embedded as a data URI and an inline script that sorts the tables; it loads
/// nothing from the network or the disk. Sections: the summary (COCOeval's 12 numbers, TIDE's
/// AP and why it differs from COCOeval's AP50), the per-class table, the precision-recall and
/// F1 curves, the confusion matrix, TIDE's errors and the worst images.
public struct AnalysisReport {
    public var analysis: DetectionAnalysis
    public var groundTruth: COCOInstances
    public var results: [COCOResult]
    /// The figures of `AnalysisPlots.figures`, by name.
    public var figures: [(name: String, png: [UInt8])]
    /// Where the ground truth's `file_name`s are: the worst images are drawn when given.
    public var imagesDirectory: String?
    /// How many worst images to show.
    public var worstCount = 20
    public var title = "Detection error analysis"

    public init(analysis: DetectionAnalysis, groundTruth: COCOInstances, results: [COCOResult],
                figures: [(name: String, png: [UInt8])], imagesDirectory: String? = nil) {
        self.analysis = analysis
        self.groundTruth = groundTruth
        self.results = results
        self.figures = figures
        self.imagesDirectory = imagesDirectory
    }

    /// The whole page.
    public func html() -> String {
        var out = "<h2 id=\"summary\">Summary</h2>\n" + summary()
        out += "<h2 id=\"per-class\">Per class</h2>\n" + perClassTable()
        out += "<h2 id=\"curves\">Curves</h2>\n<div class=\"figures\">" + figure("pr_curve.png", "precision-recall curves")
            + figure("f1_curve.png", "F1 against the score threshold") + "</div>\n"
        out += "<h2 id=\"confusion\">Confusion matrix</h2>\n" + figure("confusion_matrix.png", "confusion matrix")
        out += "<h2 id=\"tide\">TIDE errors</h2>\n" + tide()
        out += "<h2 id=\"worst\">Worst images</h2>\n"
        out += WorstImages(analysis: analysis, groundTruth: groundTruth, results: results,
                           imagesDirectory: imagesDirectory, count: worstCount).html()
        return HTML.page(title: title, body: out)
    }

    func figure(_ name: String, _ alt: String) -> String {
        guard let f = figures.first(where: { $0.name == name }) else { return "" }
        return HTML.image(f.png, alt: alt) + "\n"
    }

    /// Counts, COCOeval's summary lines and TIDE's AP with the sentence on the difference.
    func summary() -> String {
        let a = analysis
        let dets = a.perClass.rows.reduce(0) { $0 + $1.counts.detections }
        let gts = a.perClass.rows.reduce(0) { $0 + $1.counts.groundTruths }
        var out = "<p>\(a.images.count) images, \(a.categories.count) classes, \(gts) ground truths, \(dets) detections "
            + "evaluated; score threshold \(a.perClass.scoreThreshold), confusion IoU \(a.confusion.iouThreshold).</p>\n"
        out += "<table id=\"coco-stats\"><thead><tr><th>COCOeval</th><th>IoU</th><th>area</th><th>maxDets</th><th>value</th></tr></thead><tbody>\n"
        let p = a.coco.params.iouThresholds
        for l in a.coco.summaryLines {
            let iou = l.iouThreshold.map { String(format: "%.2f", $0) }
                ?? String(format: "%.2f:%.2f", p.first ?? 0.5, p.last ?? 0.95)
            out += "<tr><td>\(l.averagePrecision ? "Average Precision (AP)" : "Average Recall (AR)")</td><td>\(iou)</td>"
                + "<td>\(HTML.escape(l.area))</td><td>\(l.maxDets)</td><td>\(String(format: "%.3f", l.value))</td></tr>\n"
        }
        out += "</tbody></table>\n"
        out += "<p id=\"tide-ap\"><b>TIDE AP50 \(String(format: "%.2f", a.tide.ap))</b>, COCOeval AP50 \(String(format: "%.2f", a.cocoAP50)) (0-100)."
        if let why = a.tideDifference { out += " <span id=\"tide-difference\">\(HTML.escape(why))</span>" }
        out += "</p>\n"
        return out
    }

    /// The per-class table, sortable by clicking a header.
    func perClassTable() -> String {
        let rows = analysis.perClass.rows
        var out = "<p class=\"note\">AP, AP50 and AP75 from COCOeval (percent); precision, recall and F1 of the detections "
            + "scored above \(analysis.perClass.scoreThreshold) at IoU 0.5. Click a header to sort.</p>\n"
        out += "<div class=\"scroll\"><table id=\"per-class-table\" class=\"sortable\"><thead><tr>"
            + ["category", "AP", "AP50", "AP75", "P", "R", "F1", "GT", "dets", "TP", "FP"].map { "<th>\($0)</th>" }.joined()
            + "</tr></thead><tbody>\n"
        for r in rows {
            func ap(_ v: Double) -> String { HTML.numberCell(v < 0 ? "nan" : String(format: "%.1f", v * 100), v < 0 ? .nan : v) }
            func ratio(_ v: Double) -> String { HTML.numberCell(v.isNaN ? "nan" : String(format: "%.3f", v), v) }
            func count(_ v: Int) -> String { HTML.numberCell(String(v), Double(v)) }
            let c = r.counts
            out += "<tr><td>\(HTML.escape(r.name))</td>" + ap(r.ap) + ap(r.ap50) + ap(r.ap75)
                + ratio(c.precision) + ratio(c.recall) + ratio(c.f1)
                + count(c.groundTruths) + count(c.detections) + count(c.truePositives) + count(c.falsePositives) + "</tr>\n"
        }
        return out + "</tbody></table></div>\n"
    }

    /// TIDE's bars and its numbers.
    func tide() -> String {
        let t = analysis.tide
        var out = figure("tide_errors.png", "TIDE errors")
        out += "<table id=\"tide-table\"><thead><tr><th>error</th><th>dAP</th><th>count</th></tr></thead><tbody>\n"
        for kind in TIDEErrorKind.allCases {
            out += "<tr><td>\(kind.rawValue)</td><td>\(String(format: "%.2f", t.errors[kind] ?? 0))</td><td>\(t.counts[kind] ?? 0)</td></tr>\n"
        }
        out += "<tr><td>FalsePos</td><td>\(String(format: "%.2f", t.falsePositive))</td><td></td></tr>\n"
        out += "<tr><td>FalseNeg</td><td>\(String(format: "%.2f", t.falseNegative))</td><td></td></tr>\n"
        return out + "</tbody></table>\n"
    }
}
