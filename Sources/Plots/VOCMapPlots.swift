import Datasets
import Dispatch
import Eval
import Foundation

/// The PNG plots of the reference get_map: per class AP (precision-recall curve with the
/// interpolated area), F1, Recall and Precision against score, and the bar charts mAP.png and
/// ground-truth-info.png.
public enum VOCMapPlots {
    /// Writes every plot under `resultsDirectory` (creating AP/, F1/, Recall/, Precision/), the
    /// classes' plots in parallel. `progress(done, total)` is called (from worker threads) after
    /// each class. The first error (in class order) is thrown.
    public static func write(_ result: VOCMapResult, to resultsDirectory: String,
                             progress: (@Sendable (Int, Int) -> Void)? = nil) throws {
        for sub in ["AP", "F1", "Recall", "Precision"] {
            try FileIO.makeDirectories(FileIO.join(resultsDirectory, sub))
        }
        let n = result.classes.count
        let errors = UnsafeMutableBufferPointer<Error?>.allocate(capacity: n)
        errors.initialize(repeating: nil)
        defer { errors.deallocate() }
        nonisolated(unsafe) let failures = errors
        let lock = NSLock()
        nonisolated(unsafe) var done = 0
        DispatchQueue.concurrentPerform(iterations: n) { k in
            do {
                try writeClassPlots(result.classes[k], options: result.options, to: resultsDirectory)
            } catch {
                failures[k] = error
            }
            lock.lock()
            done += 1
            let d = done
            lock.unlock()
            progress?(d, n)
        }
        if let first = errors.compactMap({ $0 }).first { throw first }
        let gtBars = result.classes.map { PlotBar(label: $0.name, value: Double($0.groundTruthCount), text: " \($0.groundTruthCount)") }
        let gtChart = BarChart(title: ["ground-truth", "(\(result.imageCount) files and \(result.classes.count) classes)"],
                               xLabel: "Number of objects per class", color: .forestGreen, bars: gtBars)
        try gtChart.render().writePNG(FileIO.join(resultsDirectory, "ground-truth-info.png"))
        let apBars = result.classes.map { PlotBar(label: $0.name, value: $0.ap, text: $0.ap < 1 ? " " + String(format: "%.2f", $0.ap) : " \($0.ap)") }
        let mapChart = BarChart(title: ["mAP = \(String(format: "%.2f", result.mAP * 100))%"], xLabel: "Average Precision",
                                color: .royalBlue, bars: apBars)
        try mapChart.render().writePNG(FileIO.join(resultsDirectory, "mAP.png"))
    }

    /// AP/, F1/, Recall/ and Precision/<class>.png of one class.
    static func writeClassPlots(_ c: VOCClassResult, options: VOCMapOptions, to resultsDirectory: String) throws {
        let file = fileName(c.name)
        try apChart(c).render().writePNG(FileIO.join(resultsDirectory, "AP", file))
        let t = options.scoreThreshold
        let thr = "score_threhold=\(t)"
        let has = !c.precision.isEmpty
        let f1Text = (has ? String(format: "%.2f", c.f1AtThreshold) : "0.00") + " = \(c.name) F1 "
        let recallText = (has ? String(format: "%.2f", c.recallAtThreshold * 100) : "0.00") + "% = \(c.name) Recall "
        let precisionText = (has ? String(format: "%.2f", c.precisionAtThreshold * 100) : "0.00") + "% = \(c.name) Precision "
        try scoreChart("class: " + f1Text, thr, "F1", c.scores, c.f1, .orangeRed, nil, threshold: t)
            .render().writePNG(FileIO.join(resultsDirectory, "F1", file))
        try scoreChart("class: " + recallText, thr, "Recall", c.scores, c.recall, .gold, .hexagon, threshold: t)
            .render().writePNG(FileIO.join(resultsDirectory, "Recall", file))
        try scoreChart("class: " + precisionText, thr, "Precision", c.scores, c.precision, .paleVioletRed, .square, threshold: t)
            .render().writePNG(FileIO.join(resultsDirectory, "Precision", file))
    }

    /// A file name for a class: the name with `/` (and a leading `.`) replaced.
    public static func fileName(_ name: String) -> String {
        var s = name.replacingOccurrences(of: "/", with: "_")
        if s.hasPrefix(".") { s = "_" + s.dropFirst() }
        return s + ".png"
    }

    /// Precision against recall with the interpolated precision envelope shaded, as the reference
    /// draws it: the area's outline is the envelope, closed down to recall 1 at its last value.
    static func apChart(_ c: VOCClassResult) -> LineChart {
        let mrec = c.envelopeRecall, mpre = c.envelopePrecision
        var ax = Array(mrec.dropLast()), ay = Array(mpre.dropLast())
        if mrec.count >= 2 {
            ax.append(mrec[mrec.count - 2]); ay.append(0)
            ax.append(mrec[mrec.count - 1]); ay.append(mpre[mpre.count - 1])
        }
        // Step outline: the envelope holds its value until the next recall.
        var sx: [Double] = [], sy: [Double] = []
        for i in ax.indices {
            if i > 0 && i < ax.count - 2 { sx.append(ax[i - 1]); sy.append(ay[i]) }
            sx.append(ax[i]); sy.append(ay[i])
        }
        return LineChart(title: ["class: " + String(format: "%.2f", c.ap * 100) + "% = \(c.name) AP "], xLabel: "Recall", yLabel: "Precision",
                         series: [PlotSeries(x: c.recall, y: c.precision, color: .tab10Blue, marker: .circle)],
                         area: (sx, sy, .tab10Blue))
    }

    static func scoreChart(_ title: String, _ threshold: String, _ yLabel: String, _ x: [Double], _ y: [Double],
                           _ color: PlotColor, _ marker: PlotCanvas.Marker?, threshold value: Double) -> LineChart {
        LineChart(title: [title, threshold], xLabel: "Score_Threhold", yLabel: yLabel,
                  series: [PlotSeries(x: x, y: y, color: color, marker: marker)], marker: value)
    }
}
