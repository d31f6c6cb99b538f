import Foundation

/// One named curve of a `CurvePlot`.
public struct Curve: Sendable {
    public var label: String
    public var x: [Double]
    public var y: [Double]
    public var color: PlotColor

    public init(label: String, x: [Double], y: [Double], color: PlotColor) {
        self.label = label
        self.x = x
        self.y = y
        self.color = color
    }
}

/// Training curves (loss or mAP per epoch) as a PNG line chart with a legend, in the style of
/// the other plots: axes fitted to the data with round tick steps.
public enum CurvePlot {
    /// Round tick positions covering `lo...hi` (about five steps of 1, 2 or 5 times a power of ten).
    public static func ticks(_ lo: Double, _ hi: Double, integer: Bool = false) -> [Double] {
        let span = max(hi - lo, 1e-9)
        let raw = span / 5
        let mag = Foundation.pow(10, (Foundation.log10(raw)).rounded(.down))
        var step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        if integer { step = max(step, 1) }
        let first = (lo / step).rounded(.down) * step
        var out: [Double] = []
        var v = first
        while v <= hi + step * 1e-9 {
            out.append(abs(v) < step * 1e-9 ? 0 : v)
            v += step
        }
        return out
    }

    /// Writes the chart to `path` (atomically). Non-finite values are left out.
    public static func write(_ curves: [Curve], title: String, xLabel: String, yLabel: String, to path: String,
                             yFromZero: Bool = true) throws {
        let clean = curves.map { c -> Curve in
            var d = c
            let keep = zip(c.x, c.y).filter { $0.0.isFinite && $0.1.isFinite }
            d.x = keep.map(\.0)
            d.y = keep.map(\.1)
            return d
        }
        let xs = clean.flatMap(\.x), ys = clean.flatMap(\.y)
        let xLo = xs.min() ?? 0, xHi = max(xs.max() ?? 1, xLo + 1)
        var yLo = ys.min() ?? 0, yHi = ys.max() ?? 1
        if yFromZero { yLo = min(0, yLo) }
        if yHi <= yLo { yHi = yLo + 1 }
        yHi += 0.04 * (yHi - yLo)
        let integerX = xs.allSatisfy { $0 == $0.rounded() }
        let xt = ticks(xLo, xHi, integer: integerX), yt = ticks(yLo, yHi)
        var chart = LineChart(title: [title], xLabel: xLabel, yLabel: yLabel)
        chart.xRange = min(xLo, xt.first ?? xLo)...max(xHi, xt.last ?? xHi)
        chart.yRange = min(yLo, yt.first ?? yLo)...max(yHi, yt.last ?? yHi)
        chart.xTicks = xt
        chart.yTicks = yt
        chart.series = clean.map { PlotSeries(x: $0.x, y: $0.y, color: $0.color, marker: $0.x.count <= 40 ? .circle : nil) }
        chart.legend = clean.map { ($0.label, $0.color) }
        try chart.render().writePNG(path)
    }
}
