import ArgumentParser
import Eval
import Foundation
import Plots

/// `detr-bench converge`: the convergence study of the demo. Trains named recipes (detr-train
/// flag sets) on the demo's generated shapes set for a fixed training time and records the
/// validation AP50 / mAP after every epoch with the elapsed time and images/s (detr-train's
/// `epochs.jsonl`); writes `<out>/<recipe>.json` (the curve and the AP50 reached by 3, 6, 9
/// and 12 minutes) and `<out>/converge.png` (AP50 against minutes for every recipe in `out`).
struct ConvergeBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "converge",
        abstract: "Convergence study: train named recipes on the demo data and record AP50 against time.",
        discussion: "Recipes:\n" + Recipe.all.map { "  \($0.name): \($0.summary)" }.joined(separator: "\n"))

    @Argument(help: "Recipes to train (see the list below); none: only summarise the runs already in --out.")
    var recipes: [String] = []
    @Option(help: "Training time limit of each run in seconds (epochs that would end later are not started).")
    var seconds: Double = 720
    @Option(help: "Seed of the run (initialisation, order, augmentation).")
    var seed: UInt64 = 0
    @Option(help: "Folder of the runs and results.")
    var out: String = "converge"
    @Option(help: "Demo data set images (the demo's 1200: 972 train, 108 val, 120 test).")
    var images: Int = 1200
    @Option(help: "Extra detr-train flags appended to the recipe's (e.g. \"--epochs 20\").")
    var extra: String = ""

    func run() throws {
        let bin = URL(fileURLWithPath: Bench.ownExecutable()).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let data = (out as NSString).appendingPathComponent("data")
        if !FileManager.default.fileExists(atPath: data + "/2007_val.txt") {
            try step(bin + "/demo-data", ["--output", data, "--images", "\(images)", "--min-side", "128", "--max-side", "160", "--seed", "0"])
            try step(bin + "/voc-annotation", [data + "/VOCdevkit", "--classes", data + "/classes.txt", "--seed", "0", "--output-dir", data])
        }
        for name in recipes {
            guard let recipe = Recipe.all.first(where: { $0.name == name }) else {
                throw ValidationError("unknown recipe '\(name)' (\(Recipe.all.map(\.name).joined(separator: ", ")))")
            }
            let tag = seed == 0 ? recipe.name : "\(recipe.name)-seed\(seed)"
            let saveDir = (out as NSString).appendingPathComponent("runs/" + tag)
            try? FileManager.default.removeItem(atPath: saveDir)
            var args = [data + "/2007_train.txt", "--val", data + "/2007_val.txt", "--classes", data + "/classes.txt",
                        "--seed", "\(seed)", "--save-dir", saveDir, "--time-limit", "\(seconds)", "--eval-period", "1",
                        "--save-period", "1000", "--workers", "1"]
            args += recipe.flags.split(separator: " ").map(String.init)
            args += extra.split(separator: " ").map(String.init)
            FileHandle.standardError.write("converge: \(tag): detr-train \(args.joined(separator: " "))\n".data(using: .utf8)!)
            try step(bin + "/detr-train", args)
            try summarise(tag: tag, recipe: recipe, run: saveDir + "/last")
        }
        try plot()
    }

    func step(_ tool: String, _ args: [String]) throws {
        let (status, _, err) = try Bench.run(tool, args)
        guard status == 0 else { throw ValidationError("\(tool) failed (\(status)): \(err.suffix(2000))") }
    }

    /// `<out>/<tag>.json` from the run's epochs.jsonl.
    func summarise(tag: String, recipe: Recipe, run: String) throws {
        let runDir = URL(fileURLWithPath: run).resolvingSymlinksInPath().deletingLastPathComponent().path
        let lines = try String(contentsOfFile: runDir + "/epochs.jsonl", encoding: .utf8).split(separator: "\n")
        let epochs = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        func ap(byMinutes m: Double) -> Double? {
            epochs.last { ($0["elapsed_s"] as? Double ?? .infinity) <= m * 60 }.flatMap { $0["ap50"] as? Double }
        }
        let rates = epochs.compactMap { $0["images_per_s"] as? Double }.sorted()
        let result: [String: Any] = [
            "recipe": tag, "flags": recipe.flags, "seed": seed, "epochs": epochs,
            "images_per_s_median": rates.isEmpty ? 0 : rates[rates.count / 2],
            "ap50_by_minutes": Dictionary(uniqueKeysWithValues: [3.0, 6, 9, 12].map { ("\(Int($0))", ap(byMinutes: $0) ?? NSNull()) as (String, Any) }),
        ]
        let data = try JSONSerialization.data(withJSONObject: result, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: (out as NSString).appendingPathComponent(tag + ".json")))
        let by = [3, 6, 9, 12].map { m in (ap(byMinutes: Double(m))).map { String(format: "%.2f", $0) } ?? "-" }
        print("\(tag): \(rates.isEmpty ? 0 : rates[rates.count / 2]) img/s, AP50 by 3/6/9/12 min: \(by.joined(separator: " / "))")
    }

    /// converge.png: AP50 against minutes for every recipe summary in `out`.
    func plot() throws {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
        let colors: [PlotColor] = [.crimson, .tab10Blue, .forestGreen, .black, .orangeRed, .gold, .royalBlue, .gray]
        var curves: [Curve] = []
        for (i, f) in files.enumerated() {
            guard let data = FileManager.default.contents(atPath: (out as NSString).appendingPathComponent(f)),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let epochs = object["epochs"] as? [[String: Any]] else { continue }
            let points = epochs.compactMap { e -> (Double, Double)? in
                guard let t = e["elapsed_s"] as? Double, let ap = e["ap50"] as? Double else { return nil }
                return (t / 60, ap)
            }
            curves.append(Curve(label: String(f.dropLast(5)), x: points.map(\.0), y: points.map(\.1), color: colors[i % colors.count]))
        }
        guard !curves.isEmpty else { return }
        try CurvePlot.write(curves, title: "Validation AP50 against training time", xLabel: "Minutes", yLabel: "AP50",
                            to: (out as NSString).appendingPathComponent("converge.png"))
    }
}

/// A named detr-train recipe of the study (flags on top of the demo's data and schedule).
struct Recipe {
    let name: String
    let summary: String
    let flags: String

    /// The demo network: ResNet-18 from scratch (trainable batch norm), width 128, 2+2 layers,
    /// FFN 512, 16 queries, dropout 0, native image size, batch 8.
    static let small = "--backbone resnet18 --input-size 128 --d-model 128 --heads 8 --enc-layers 2 --dec-layers 2 --ffn 512 --queries 16 --dropout 0 --batch 8 --epochs 200"
    /// The official code's study setting: AdamW 2e-4 constant for all parameters, flips only.
    static let constant = "--lr 2e-4 --backbone-lr-ratio 1 --schedule constant --preset flip"

    static let all: [Recipe] = [
        Recipe(name: "detr-demo", summary: "the earlier demo: DETR, softmax + no-object, stride 32, cosine 2e-4, no augmentation",
               flags: small + " --model detr --preset none --lr 2e-4 --min-lr 2e-5"),
        Recipe(name: "detr-focal", summary: "DETR with the sigmoid focal recipe (prior bias, focal matching, weights 2/5/2, top-k), stride 32",
               flags: small + " " + constant + " --model detr --loss focal"),
        Recipe(name: "detr-focal-s16", summary: "detr-focal with stride-16 features (ResNet-18 up to layer3)",
               flags: small + " " + constant + " --model detr --loss focal --backbone-stages 3"),
        Recipe(name: "cond-k1-s32", summary: "Conditional DETR, one group, stride 32",
               flags: small + " " + constant + " --model conditional-detr"),
        Recipe(name: "cond-k1-s16", summary: "Conditional DETR, one group, stride 16",
               flags: small + " " + constant + " --model conditional-detr --backbone-stages 3"),
        Recipe(name: "cond-k3-s16", summary: "Conditional DETR, 3 query groups, stride 16",
               flags: small + " " + constant + " --model conditional-detr --backbone-stages 3 --groups 3"),
        Recipe(name: "cond-k3-s16-lr4", summary: "cond-k3-s16 at learning rate 4e-4",
               flags: small + " " + constant + " --model conditional-detr --backbone-stages 3 --groups 3 --lr 4e-4"),
        Recipe(name: "cond-k3-s16-cos18", summary: "cond-k3-s16 for 18 epochs with a cosine decay 2e-4 -> 2e-5 (warm-up 1 epoch)",
               flags: small + " " + constant + " --model conditional-detr --backbone-stages 3 --groups 3 --schedule cos --min-lr 2e-5 --epochs 18"),
        Recipe(name: "cond-k11-s16", summary: "Conditional DETR, 11 query groups (the paper's), stride 16: the official code's best",
               flags: small + " " + constant + " --model conditional-detr --backbone-stages 3 --groups 11"),
    ]
}
