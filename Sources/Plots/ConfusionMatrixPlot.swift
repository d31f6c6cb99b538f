import Eval
import Foundation

/// The confusion matrix as a heat map (ultralytics' confusion_matrix_normalized.png): rows
/// predicted, columns true, each column normalised to sum 1, the background last; class names
/// on both axes, the values written in the cells when they are large enough, a colour bar.
struct ConfusionMatrixPlot {
    var matrix: ConfusionMatrix
    /// The classes' names (index order); background is added.
    var names: [String]

    init(_ matrix: ConfusionMatrix, names: [String]) {
        self.matrix = matrix
        self.names = names
    }

    /// matplotlib's "Blues" from white to dark blue, `v` in [0, 1].
    static func blues(_ v: Double) -> PlotColor {
        let stops: [PlotColor] = [PlotColor(hex: 0xF7FBFF), PlotColor(hex: 0xC6DBEF), PlotColor(hex: 0x6BAED6),
                                  PlotColor(hex: 0x2171B5), PlotColor(hex: 0x08306B)]
        let x = min(max(v.isFinite ? v : 0, 0), 1) * Double(stops.count - 1)
        let i = min(Int(x), stops.count - 2), f = x - Double(i)
        let a = stops[i], b = stops[i + 1]
        return PlotColor(a.r + (b.r - a.r) * f, a.g + (b.g - a.g) * f, a.b + (b.b - a.b) * f)
    }

    func render() -> PlotCanvas {
        let n = matrix.classCount + 1
        let labels = (0..<matrix.classCount).map { $0 < names.count ? names[$0] : String($0) } + ["background"]
        let cell = min(48, max(12, (560 / Double(n)).rounded(.down)))
        let fontSize = min(12, max(8, cell * 0.45))
        let probe = PlotCanvas(width: 1, height: 1)
        let labelW = labels.map { probe.textWidth($0, size: fontSize) }.max() ?? 0
        let title = ["Confusion matrix (rows predicted, columns true, normalised per column)",
                     "score > \(matrix.scoreThreshold), IoU > \(matrix.iouThreshold)"]
        let titleW = title.map { probe.textWidth($0, size: 14) }.max() ?? 0
        let top = 70.0, bottom = labelW + 44, right = 90.0
        let side = cell * Double(n)
        // Centred when the title is wider than the matrix and its labels.
        let width = max(labelW + 44 + side + right, titleW + 40)
        let left = (width - side - right + labelW + 44) / 2
        let canvas = PlotCanvas(width: Int(width), height: Int(top + side + bottom))
        let values = matrix.normalised
        let showValues = cell >= 26
        for r in 0..<n {
            for c in 0..<n {
                let v = values[r * n + c]
                let x = left + Double(c) * cell, y = top + Double(r) * cell
                canvas.rectangle(x, y, cell, cell, fill: Self.blues(v))
                if showValues && v >= 0.005 {
                    canvas.text(String(format: "%.2f", v), x: x + cell / 2, y: y + cell / 2, size: min(11, cell * 0.3),
                                color: v > 0.5 ? .white : .black, align: .center)
                }
            }
        }
        canvas.rectangle(left, top, side, side, stroke: .black, lineWidth: 1)
        for (k, label) in labels.enumerated() {
            let mid = Double(k) * cell + cell / 2
            canvas.text(label, x: left - 6, y: top + mid, size: fontSize, align: .right)
            canvas.text(label, x: left + mid, y: top + side + 6, size: fontSize, align: .right, rotated: true)
        }
        for (i, line) in title.enumerated() {
            canvas.text(line, x: Double(canvas.width) / 2, y: 20 + 20 * Double(i), size: 14, align: .center)
        }
        canvas.text("True", x: left + side / 2, y: Double(canvas.height) - 16, size: 12, align: .center)
        canvas.text("Predicted", x: left - labelW - 28, y: top + side / 2, size: 12, align: .center, rotated: true)
        // Colour bar: 0 at the bottom, 1 at the top.
        let barX = left + side + 24, steps = 100
        for s in 0..<steps {
            let h = side / Double(steps)
            canvas.rectangle(barX, top + side - Double(s + 1) * h, 16, h + 0.5, fill: Self.blues((Double(s) + 0.5) / Double(steps)))
        }
        canvas.rectangle(barX, top, 16, side, stroke: .black, lineWidth: 1)
        for v in [0.0, 0.5, 1.0] {
            canvas.text(String(format: "%.1f", v), x: barX + 22, y: top + side - v * side, size: 10)
        }
        return canvas
    }
}
