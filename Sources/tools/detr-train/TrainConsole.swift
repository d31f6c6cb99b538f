import Foundation
import Pipeline
import ToolSupport

/// What detr-train shows while it trains: a progress bar per epoch, one summary line at the
/// end of each, and the trainer's notes on stderr.
enum TrainConsole {
    /// A reporter for a run to epoch `epochs`.
    static func reporter(epochs total: Int) -> TrainReporter {
        var bar: ProgressBar?
        var barEpoch = -1
        return TrainReporter(
            note: { ToolIO.printError($0) },
            progress: { epoch, i, n, status in
                if barEpoch != epoch {
                    bar = ProgressBar(label: "Epoch \(epoch + 1)/\(total)", total: n, minimumTotal: 1)
                    barEpoch = epoch
                }
                bar?.update(i, n, status: status)
            },
            epochEnded: { r in
                bar?.finish()
                ToolIO.say(summary(r, epochs: total))
            })
    }

    /// `Epoch 2/300 - loss 1.234 - val_loss ... - ce 0.5 bbox 0.2 giou 0.3 - lr 1.0e-04 - 12.3 s (45.6 img/s) ...`
    static func summary(_ r: EpochRecord, epochs total: Int) -> String {
        var line = String(format: "Epoch %d/%d - loss %.3f", r.epoch + 1, total, r.trainLoss)
        if let v = r.valLoss { line += String(format: " - val_loss %.3f", v) }
        line += " - " + r.termNames.map { String(format: "%@ %.3f", $0, r.terms[$0] ?? 0) }.joined(separator: " ")
        line += String(format: " - lr %.1e - %.1f s (%.1f img/s)", r.learningRate, r.seconds, Double(r.images) / max(r.trainSeconds, 1e-9))
        let shown = zip(r.metric.names, [r.ap50, r.map]).compactMap { name, v in v.map { String(format: "%@ %.3f", name, $0) } }
        if !shown.isEmpty { line += " - " + shown.joined(separator: " ") }
        if r.skipped > 0 { line += " - \(r.skipped) samples skipped" }
        if r.savedBest { line += " - best" }
        return line
    }
}
