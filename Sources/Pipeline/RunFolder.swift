import Datasets
import Foundation
import Plots
import Tensor
import ToolSupport

/// The folder of a run (`<saveDir>/<yyyy_MM_dd_HH_mm_ss>`, `-2`, `-3`... when taken) and what
/// each epoch writes there: the text logs (`epoch_loss.txt`, `epoch_val_loss.txt`,
/// `epoch_map.txt`, `epochs.jsonl`), the plots, the checkpoints, and the `<saveDir>/best` and
/// `<saveDir>/last` links to the newest run's.
struct RunFolder {
    let path: String
    let saveDir: String
    /// What the plots' epoch axes need: the first epoch, the last and the evaluation period.
    let initEpoch: Int
    let epochs: Int
    let evalPeriod: Int
    /// What `epoch_map.txt` holds (its first value).
    let metric: ValidationMetric

    init(path: String, options: TrainOptions) {
        self.path = path
        saveDir = options.saveDir
        initEpoch = options.initEpoch
        epochs = options.epochs
        evalPeriod = options.evalPeriod
        metric = ValidationMetric.of(options)
    }

    /// A new run folder's path under `saveDir`: the time stamp, with `-k` added when taken.
    static func newPath(in saveDir: String) -> String {
        let stamp = timestamp()
        var dir = FileIO.join(saveDir, stamp)
        var k = 1
        while FileManager.default.fileExists(atPath: dir) {
            k += 1
            dir = FileIO.join(saveDir, "\(stamp)-\(k)")
        }
        return dir
    }

    static func timestamp() -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.dateFormat = "yyyy_MM_dd_HH_mm_ss"
        return f.string(from: Date())
    }

    /// The run folder of a checkpoint: the folder holding it, through a `logs/last` link.
    static func of(checkpoint: String) -> String {
        let url = URL(fileURLWithPath: checkpoint).resolvingSymlinksInPath()
        return url.deletingLastPathComponent().path
    }

    /// Creates the folder and writes `config.json` (the run's options).
    func start(_ options: TrainOptions) throws {
        try FileIO.makeDirectories(path)
        try writeText(String(decoding: try options.encodedJSON(), as: UTF8.self) + "\n", to: FileIO.join(path, "config.json"))
    }

    /// Appends an epoch to the text logs.
    func log(_ record: EpochRecord) throws {
        try appendLine(String(format: "%.6f", record.trainLoss), to: FileIO.join(path, "epoch_loss.txt"))
        if let v = record.valLoss { try appendLine(String(format: "%.6f", v), to: FileIO.join(path, "epoch_val_loss.txt")) }
        if let ap = record.ap50 { try appendLine(String(format: "%.6f", ap), to: FileIO.join(path, "epoch_map.txt")) }
        try appendLine(try record.jsonLine(), to: FileIO.join(path, "epochs.jsonl"))
    }

    /// Drops the log entries of epochs after `epoch` (1-based), which a run killed, or stopped
    /// by a failed checkpoint write, logged without saving its checkpoint: the resumed run
    /// trains those epochs again and logs them once. `epochs.jsonl` is written last of the
    /// four, so its lines say which epochs were logged completely.
    func keepLogs(throughEpoch epoch: Int) throws {
        let jsonl = FileIO.join(path, "epochs.jsonl")
        guard let text = try? String(contentsOfFile: jsonl, encoding: .utf8) else { return }
        let objects = text.split(separator: "\n").map { line in
            (line, (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:])
        }
        let kept = objects.filter { (($0.1["epoch"] as? Int) ?? 0) <= epoch }
        let counts = [("epochs.jsonl", kept.count), ("epoch_loss.txt", kept.count),
                      ("epoch_val_loss.txt", kept.filter { $0.1["val_loss"] != nil }.count),
                      ("epoch_map.txt", kept.filter { $0.1[metric.keys[0]] != nil }.count)]
        for (name, count) in counts {
            let file = FileIO.join(path, name)
            guard let lines = (try? String(contentsOfFile: file, encoding: .utf8))?.split(separator: "\n"),
                  lines.count > count else { continue }
            try writeText(lines.prefix(count).map { $0 + "\n" }.joined(), to: file)
        }
    }

    /// The folder name of an epoch's numbered checkpoint (`ep002-loss1.234-val_loss1.456`).
    static func checkpointName(_ record: EpochRecord) -> String {
        String(format: "ep%03d-loss%.3f-val_loss%.3f", record.epoch + 1, record.trainLoss, record.valLoss ?? .nan)
    }

    func appendLine(_ line: String, to file: String) throws {
        let old = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        try writeText(old + line + "\n", to: file)
    }

    /// Writes a checkpoint folder `<run>/<name>` (atomically); returns its path.
    @discardableResult
    func save(_ bundle: ModelBundle, as name: String, optimizer: [String: Tensor]) throws -> String {
        let folder = FileIO.join(path, name)
        try bundle.save(to: folder, optimizer: optimizer)
        return folder
    }

    /// Points `<saveDir>/<name>` (logs/best, logs/last) at `<run>/<name>`, replacing an older link atomically.
    func link(_ name: String) throws {
        let linkPath = FileIO.join(saveDir, name)
        let runName = URL(fileURLWithPath: path).lastPathComponent
        let target = runName + "/" + name
        let tmp = linkPath + ".tmp-\(getpid())"
        try? FileManager.default.removeItem(atPath: tmp)
        guard symlink(target, tmp) == 0, rename(tmp, linkPath) == 0 else {
            throw DatasetError.unwritableFile(path: linkPath, reason: String(cString: strerror(errno)))
        }
    }

    /// epoch_loss.png (train and val loss) and epoch_map.png (AP50 per evaluation) from the
    /// run's text files, so that a resumed run plots its whole history.
    func writePlots() throws {
        let dir = path
        func values(_ name: String) -> [Double] {
            ((try? String(contentsOfFile: FileIO.join(dir, name), encoding: .utf8)) ?? "")
                .split(separator: "\n").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        }
        let train = values("epoch_loss.txt"), val = values("epoch_val_loss.txt")
        let first = Double(initEpoch + 1)
        var curves = [Curve(label: "train loss", x: train.indices.map { first + Double($0) }, y: train, color: .red)]
        if !val.isEmpty { curves.append(Curve(label: "val loss", x: val.indices.map { first + Double($0) }, y: val, color: .tab10Blue)) }
        try CurvePlot.write(curves, title: "Loss", xLabel: "Epoch", yLabel: "Loss", to: FileIO.join(dir, "epoch_loss.png"))
        let maps = values("epoch_map.txt")
        if !maps.isEmpty {
            // Evaluations happen every eval period and at the last epoch.
            var xs: [Double] = []
            var e = initEpoch
            while xs.count < maps.count && e < epochs + 1000 {
                e += 1
                if e % evalPeriod == 0 || e == epochs { xs.append(Double(e)) }
            }
            let name = metric.names[0]
            try CurvePlot.write([Curve(label: name, x: xs, y: maps, color: .red)], title: metric.title,
                                xLabel: "Epoch", yLabel: name, to: FileIO.join(dir, "epoch_map.png"))
        }
    }
}
