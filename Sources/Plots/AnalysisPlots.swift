import Datasets
import Eval
import Foundation

/// The figures of the error analysis (`DetectionAnalysis`), as PNG bytes or files: the
/// precision-recall curves, F1 against the score threshold, the confusion matrix and TIDE's
/// error bars.
public enum AnalysisPlots {
    /// Every figure, named as in the analysis folder, in the report's order.
    public static func figures(_ a: DetectionAnalysis) throws -> [(name: String, png: [UInt8])] {
        [("pr_curve.png", try precisionRecallChart(a).render().pngBytes()),
         ("f1_curve.png", try f1Chart(a).render().pngBytes()),
         ("confusion_matrix.png", try ConfusionMatrixPlot(a.confusion, names: classNames(a)).render().pngBytes()),
         ("tide_errors.png", try tideChart(a.tide).render().pngBytes())]
    }

    /// Writes the figures into `directory` (created), atomically; returns them.
    @discardableResult
    public static func write(_ a: DetectionAnalysis, to directory: String) throws -> [(name: String, png: [UInt8])] {
        try FileIO.makeDirectories(directory)
        let all = try figures(a)
        for (name, png) in all { try FileIO.writeAtomically(FileIO.join(directory, name), bytes: png) }
        return all
    }

    /// The categories' names in id order (the confusion matrix's class order).
    static func classNames(_ a: DetectionAnalysis) -> [String] {
        var name: [Int64: String] = [:]
        for c in a.categories { name[c.id] = c.name }
        return Array(Set(a.categories.map(\.id))).sorted().map { name[$0] ?? String($0) }
    }

    /// A class's colour: `DetectionDrawing`'s, by its index in id order.
    static func classColor(_ id: Int64, _ a: DetectionAnalysis) -> PlotColor {
        let ids = Array(Set(a.categories.map(\.id))).sorted()
        let c = DetectionDrawing.color(forClass: ids.firstIndex(of: id) ?? 0)
        return PlotColor(Double(c.0) / 255, Double(c.1) / 255, Double(c.2) / 255)
    }

    /// At most this many classes get their own colour and legend entry (ultralytics: 20);
    /// with more every class is a thin grey line under the mean.
    static let legendLimit = 10

    /// Per-class curves (coloured with a legend, or grey) under the thick "all classes" mean.
    static func curveChart(_ curves: ClassCurves, _ a: DetectionAnalysis, title: [String], xLabel: String, yLabel: String,
                           meanLabel: String) -> LineChart {
        var chart = LineChart(title: title, xLabel: xLabel, yLabel: yLabel)
        let named = curves.perClass.count <= legendLimit
        var name: [Int64: String] = [:]
        for c in a.categories { name[c.id] = c.name }
        for c in curves.perClass {
            let color = named ? classColor(c.categoryId, a) : PlotColor.gray
            chart.series.append(PlotSeries(x: curves.x, y: c.y, color: color, marker: nil, width: 1))
            if named { chart.legend.append((name[c.categoryId] ?? String(c.categoryId), color)) }
        }
        chart.series.append(PlotSeries(x: curves.x, y: curves.mean, color: .tab10Blue, marker: nil, width: 3))
        chart.legend.append((meanLabel, .tab10Blue))
        return chart
    }

    static func precisionRecallChart(_ a: DetectionAnalysis) -> LineChart {
        let pr = a.precisionRecall
        let map50 = a.coco.stats.count > 1 ? a.coco.stats[1] : -1
        return curveChart(pr, a, title: ["Precision-recall at IoU 0.5 (COCOeval)"], xLabel: "Recall", yLabel: "Precision",
                          meanLabel: "all classes " + String(format: "%.3f", map50))
    }

    static func f1Chart(_ a: DetectionAnalysis) -> LineChart {
        let f1 = a.f1
        var title = "F1 against the score threshold (IoU 0.5)"
        var chart: LineChart
        if let best = f1.bestIndex {
            let text = String(format: "all classes %.2f at %.2f", f1.mean[best], f1.x[best])
            title += ": best " + String(format: "%.2f", f1.x[best])
            chart = curveChart(f1, a, title: [title], xLabel: "Score threshold", yLabel: "F1", meanLabel: text)
            chart.marker = f1.x[best]
            chart.series.append(PlotSeries(x: [f1.x[best]], y: [f1.mean[best]], color: .crimson, marker: .circle, width: 1))
        } else {
            chart = curveChart(f1, a, title: [title], xLabel: "Score threshold", yLabel: "F1", meanLabel: "all classes")
        }
        return chart
    }

    /// The six main errors' dAP, then FalsePos and FalseNeg, in tidecv's order.
    static func tideChart(_ t: TIDEResult) -> BarChart {
        let palette: [PlotColor] = [PlotColor(hex: 0xE15759), PlotColor(hex: 0xF28E2B), PlotColor(hex: 0xB07AA1),
                                    PlotColor(hex: 0x59A14F), PlotColor(hex: 0x4E79A7), PlotColor(hex: 0x76B7B2)]
        var bars = TIDEErrorKind.allCases.enumerated().map { k, kind in
            let v = t.errors[kind] ?? 0
            return PlotBar(label: kind.rawValue, value: v, text: " " + String(format: "%.2f", v), color: palette[k])
        }
        for (label, v) in [("FalsePos", t.falsePositive), ("FalseNeg", t.falseNegative)] {
            bars.append(PlotBar(label: label, value: v, text: " " + String(format: "%.2f", v), color: .gray))
        }
        return BarChart(title: ["TIDE errors: dAP gained by fixing each (AP50 \(String(format: "%.2f", t.ap)))"],
                        xLabel: "dAP (0-100)", color: .tab10Blue, bars: bars, keepOrder: true)
    }
}
