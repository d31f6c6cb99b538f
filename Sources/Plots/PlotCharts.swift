import Foundation

/// A line (x, y) series of a `LineChart`.
struct PlotSeries {
    var x: [Double]
    var y: [Double]
    var color: PlotColor
    var marker: PlotCanvas.Marker?
    var width: Double = 1.5
}

/// A line chart in the style of matplotlib's default figure (640x480): axes box, ticks,
/// a title of one or more lines, axis labels, series and an optional shaded area.
struct LineChart {
    var title: [String]
    var xLabel: String
    var yLabel: String
    var xRange: ClosedRange<Double> = 0...1
    var yRange: ClosedRange<Double> = 0...1.05
    var series: [PlotSeries] = []
    /// A polygon (in data coordinates) filled under the series, with its fill colour.
    var area: (x: [Double], y: [Double], color: PlotColor)?
    /// An x value marked with a dashed vertical line (the score threshold).
    var marker: Double?
    /// Tick positions (nil: every 0.2 from 0 to 1).
    var xTicks: [Double]?
    var yTicks: [Double]?
    /// Legend entries drawn in the upper right corner.
    var legend: [(label: String, color: PlotColor)] = []

    /// A tick's text: as many decimals as the tick spacing needs.
    func tickLabel(_ v: Double, _ ticks: [Double]?) -> String {
        guard let ticks, ticks.count > 1 else { return String(format: "%.1f", v) }
        let step = abs(ticks[1] - ticks[0])
        let decimals = step >= 1 ? 0 : min(6, Int((-Foundation.log10(step)).rounded(.up)))
        return String(format: "%.\(decimals)f", v)
    }

    func render(width: Int = 640, height: Int = 480) -> PlotCanvas {
        let canvas = PlotCanvas(width: width, height: height)
        let left = 80.0, right = 24.0, bottom = 58.0
        let top = 30.0 + 20.0 * Double(title.count)
        let plotW = Double(width) - left - right
        let plotH = Double(height) - top - bottom
        func px(_ x: Double) -> Double { left + (x - xRange.lowerBound) / (xRange.upperBound - xRange.lowerBound) * plotW }
        func py(_ y: Double) -> Double { top + plotH - (y - yRange.lowerBound) / (yRange.upperBound - yRange.lowerBound) * plotH }

        // Grid and ticks (every 0.2 unless given).
        let grid = (0...5).map { Double($0) * 0.2 }
        for v in xTicks ?? grid where xRange.contains(v) {
            canvas.line(px(v), top, px(v), top + plotH, color: .lightGray)
            canvas.line(px(v), top + plotH, px(v), top + plotH + 4, color: .black)
            canvas.text(tickLabel(v, xTicks), x: px(v), y: top + plotH + 14, size: 11, align: .center)
        }
        for v in yTicks ?? grid where yRange.contains(v) {
            canvas.line(left, py(v), left + plotW, py(v), color: .lightGray)
            canvas.line(left - 4, py(v), left, py(v), color: .black)
            canvas.text(tickLabel(v, yTicks), x: left - 7, y: py(v), size: 11, align: .right)
        }
        // Data outside the ranges (scores above 1, say) is clipped to the axes box.
        canvas.clip(left, top, plotW, plotH)
        defer { canvas.unclip() }
        if let v = marker, xRange.contains(v) {
            canvas.dashedLine(px(v), top, px(v), top + plotH, color: .gray)
        }
        if let area, area.x.count == area.y.count, !area.x.isEmpty {
            var pts = zip(area.x, area.y).map { (px($0.0), py($0.1)) }
            pts.append((px(area.x.last!), py(0)))
            pts.append((px(area.x.first!), py(0)))
            canvas.polygon(pts, fill: area.color, alpha: 0.2, edge: .red)
        }
        for s in series where !s.x.isEmpty {
            let pts = zip(s.x, s.y).map { (px($0.0), py($0.1)) }
            canvas.polyline(pts, color: s.color, width: s.width)
            if let m = s.marker {
                for p in pts { canvas.marker(m, at: p, size: 6, color: s.color) }
            }
        }
        canvas.unclip()
        canvas.rectangle(left, top, plotW, plotH, stroke: .black, lineWidth: 1)
        // The legend's box fits its longest label, inside the upper right corner.
        let legendW = (legend.map { canvas.textWidth($0.label, size: 11) }.max() ?? 0) + 44
        if !legend.isEmpty {
            canvas.rectangle(left + plotW - legendW - 8, top + 6, legendW, 18 * Double(legend.count) + 4,
                             fill: .white, stroke: .lightGray)
        }
        for (i, entry) in legend.enumerated() {
            let y = top + 16 + 18 * Double(i)
            let x = left + plotW - legendW
            canvas.line(x, y, x + 24, y, color: entry.color, width: 2)
            canvas.text(entry.label, x: x + 30, y: y, size: 11)
        }
        for (i, line) in title.enumerated() {
            canvas.text(line, x: left + plotW / 2, y: 20 + 20 * Double(i), size: 14, align: .center)
        }
        canvas.text(xLabel, x: left + plotW / 2, y: Double(height) - 20, size: 12, align: .center)
        canvas.text(yLabel, x: 22, y: top + plotH / 2, size: 12, align: .center, rotated: true)
        return canvas
    }
}

/// One bar of a `BarChart`: a label, a value, the text written after the bar and its colour
/// (nil: the chart's).
struct PlotBar {
    var label: String
    var value: Double
    var text: String
    var color: PlotColor? = nil
}

/// A horizontal bar chart like the reference's draw_plot_func: bars sorted by value, the
/// largest on top, the class names on the y axis and each value written after its bar; the
/// figure grows with the number of bars.
struct BarChart {
    var title: [String]
    var xLabel: String
    var color: PlotColor
    var bars: [PlotBar]
    /// Draw the bars top to bottom in their given order instead of sorted by value.
    var keepOrder = false

    func render(minWidth: Int = 640, minHeight: Int = 480) -> PlotCanvas {
        // Sort ascending (stable), then draw from the top: the largest value first.
        let sorted = keepOrder ? Array(bars.reversed()) : bars.enumerated().sorted { a, b in
            a.element.value != b.element.value ? a.element.value < b.element.value : a.offset < b.offset
        }.map(\.element)
        let probe = PlotCanvas(width: 1, height: 1)
        let labelW = sorted.map { probe.textWidth($0.label, size: 12) }.max() ?? 0
        let valueW = sorted.map { probe.textWidth($0.text, size: 11, bold: true) }.max() ?? 0
        let rowH = 17.0
        let top = 30.0 + 20.0 * Double(title.count), bottom = 58.0
        let left = labelW + 22, right = valueW + 24
        let height = max(minHeight, Int(top + bottom + rowH * Double(max(sorted.count, 1)) + 10))
        let width = max(minWidth, Int(left + right + 400))
        let canvas = PlotCanvas(width: width, height: height)
        let plotW = Double(width) - left - right
        let plotH = Double(height) - top - bottom
        let maxValue = max(sorted.map(\.value).max() ?? 1, 1e-12)
        let ticks = niceTicks(upTo: maxValue)
        let xMax = max(maxValue, ticks.last ?? maxValue)
        func px(_ v: Double) -> Double { left + v / xMax * plotW }
        let slot = plotH / Double(max(sorted.count, 1))

        let decimals = tickDecimals(ticks)
        for t in ticks {
            canvas.line(px(t), top, px(t), top + plotH, color: .lightGray)
            canvas.line(px(t), top + plotH, px(t), top + plotH + 4, color: .black)
            canvas.text(String(format: "%.\(decimals)f", t), x: px(t), y: top + plotH + 14, size: 11, align: .center)
        }
        for (i, bar) in sorted.reversed().enumerated() {
            let yc = top + slot * (Double(i) + 0.5)
            let h = min(slot * 0.8, 14)
            let fill = bar.color ?? color
            canvas.rectangle(left, yc - h / 2, max(0, px(bar.value) - left), h, fill: fill)
            canvas.text(bar.label, x: left - 8, y: yc, size: 12, align: .right)
            canvas.text(bar.text, x: px(bar.value) + 2, y: yc, size: 11, color: fill, bold: true)
        }
        canvas.rectangle(left, top, plotW, plotH, stroke: .black, lineWidth: 1)
        for (i, line) in title.enumerated() {
            canvas.text(line, x: left + plotW / 2, y: 20 + 20 * Double(i), size: 14, align: .center)
        }
        canvas.text(xLabel, x: left + plotW / 2, y: Double(height) - 20, size: 12, align: .center)
        return canvas
    }

    /// Round tick values 0, step, 2 step, ... covering `maxValue` (steps 1, 2, 2.5 or 5 x 10^k).
    func niceTicks(upTo maxValue: Double) -> [Double] {
        let raw = maxValue / 5
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2.0, 2.5, 5.0, 10.0].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        var out: [Double] = []
        var v = 0.0
        var k = 0
        while v <= maxValue * 1.0001 + step * 0.999 && k < 20 {
            out.append(v)
            k += 1
            v = Double(k) * step
            if out.last! >= maxValue { break }
        }
        return out
    }

    /// The fewest decimals (0 to 3) that write every tick exactly.
    func tickDecimals(_ ticks: [Double]) -> Int {
        for d in 0...2 {
            let scale = pow(10, Double(d))
            if ticks.allSatisfy({ abs($0 * scale - ($0 * scale).rounded()) < 1e-9 }) { return d }
        }
        return 3
    }
}
