import ArgumentParser
import Augment
import Base
import Datasets
import Foundation
import Model
import NN
import Pipeline
import Tensor

/// `detr-bench memory`: peak memory of inference.
///
/// - `predict-raccoon-all` against `predict-raccoon-largest`: the detector of the demo's recipe
///   (Conditional DETR, 3 query groups, ResNet-18 to stride 16, width 128, 2 + 2 layers, 16
///   queries, the `flip` preset: images at their own size) run as `predict` runs it on every
///   image of ../shared/data/voc/raccoon (200 photos, 500x375 to 2000x1333), then on its largest
///   image alone. Target: the folder's peak within 1.2x of the largest image's.
/// - `detr-r50-segm-infer-1x800x1066`: DETR-R50 with the segmentation head on one image, against
///   the official facebookresearch/detr code when DETR_REPO names a clone of it, else
///   transformers' DetrForSegmentation (scripts/bench/model_ref.py). Target: at most the
///   reference's peak.
///
/// Each case runs in its own process (one warm-up and --runs passes); the weights are random
/// (the memory of a pass does not depend on them).
struct MemoryBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory", abstract: "Peak memory of inference: predict over a folder of varied sizes, DETR-R50-segm vs PyTorch.")

    @OptionGroup var options: BenchOptions

    func run() throws {
        let selected = Self.cases(data: options.data).filter { options.only == nil || $0.name.contains(options.only!) }
        var peaks: [String: Double] = [:]
        var refs: [String: Measurement] = [:]
        for c in selected {
            let (status, out, err) = try Bench.run(Bench.ownExecutable(), ["run-case", "memory", c.name, "--runs", String(options.runs),
                                                                            "--data", options.data])
            guard status == 0, let ours = try? JSONDecoder().decode(Measurement.self, from: Data(out.utf8)) else {
                Bench.log("\(c.name): our case failed: \(err.trimmingCharacters(in: .whitespacesAndNewlines))")
                continue
            }
            peaks[c.name] = ours.peak_rss_mb
            Bench.log("\(c.name): \(String(format: "%.1f", ours.seconds)) s, peak RSS \(String(format: "%.0f", ours.peak_rss_mb)) MB")
            guard !c.referenceScript.isEmpty else { continue }
            let script = options.scripts + "/" + c.referenceScript
            guard let python = Bench.which(options.python), FileManager.default.fileExists(atPath: script) else {
                Bench.log("\(c.name): reference \(c.reference) could not run: \(options.python) or \(script) not found")
                continue
            }
            let (rs, rout, rerr) = try Bench.run(python, [script] + c.referenceArguments + ["--runs", String(options.runs)])
            if rs == 0, let m = try? JSONDecoder().decode(Measurement.self, from: Data(rout.utf8)) {
                refs[c.name] = m
                Bench.log("\(c.name): reference \(c.reference): \(String(format: "%.1f", m.seconds)) s, peak RSS \(String(format: "%.0f", m.peak_rss_mb)) MB")
            } else {
                Bench.log("\(c.name): reference \(c.reference) could not run: \(rerr.split(separator: "\n").last ?? "exit \(rs)")")
            }
        }
        // (case, against, peak, peak of the comparison, allowed ratio)
        var rows: [(String, String, Double, Double, Double)] = []
        if let all = peaks["predict-raccoon-all"], let one = peaks["predict-raccoon-largest"] {
            rows.append(("predict-raccoon-all", "predict-raccoon-largest", all, one, 1.2))
        }
        if let ours = peaks[Self.segmentationCase], let ref = refs[Self.segmentationCase] {
            rows.append((Self.segmentationCase, selected.first { $0.name == Self.segmentationCase }!.reference, ours, ref.peak_rss_mb, 1.0))
        }
        for (name, against, peak, other, allowed) in rows {
            let ratio = peak / other
            if options.json {
                print("{\"case\": \"\(name)\", \"peak_rss_mb\": \(String(format: "%.1f", peak)), \"against\": \"\(against)\", "
                      + "\"against_peak_rss_mb\": \(String(format: "%.1f", other)), \"ratio\": \(String(format: "%.4f", ratio)), "
                      + "\"target\": \(allowed), \"met\": \(ratio <= allowed)}")
            } else {
                print("\(name): \(String(format: "%.0f", peak)) MB, \(against): \(String(format: "%.0f", other)) MB, "
                      + "ratio \(String(format: "%.3f", ratio)) (target at most \(allowed)): \(ratio <= allowed ? "met" : "NOT met")")
            }
        }
    }

    static let segmentationCase = "detr-r50-segm-infer-1x800x1066"

    static func cases(data: String) -> [BenchCase] {
        let folder = data + "/voc/raccoon/VOCdevkit/VOC2007/JPEGImages"
        return [predict(name: "predict-raccoon-all", folder: folder, largestOnly: false),
                predict(name: "predict-raccoon-largest", folder: folder, largestOnly: true),
                segmentation()]
    }

    /// The demo's detector over a folder, as `predict` runs it (the allocator holding at most its
    /// peak, images decoded one at a time, detections post-processed).
    static func predict(name: String, folder: String, largestOnly: Bool) -> BenchCase {
        BenchCase(name: name, reference: "", referenceScript: "", referenceArguments: []) {
            Allocator.holdsAtMostPeak = true
            var config = ConditionalDETRConfig()
            config.numClasses = DemoData.classNames.count
            config.groups = 3
            config.backbone = .resnet18
            config.backboneStages = 3
            config.backboneNorm = .trainable
            config.dModel = 128
            config.heads = 8
            config.encoderLayers = 2
            config.decoderLayers = 2
            config.feedForward = 512
            config.numQueries = 16
            config.dropout = 0
            let bundle = ModelBundle.fresh(config: config, classNames: DemoData.classNames, inputSize: 128,
                                           preset: .flip, seed: 0)
            let detector = Detector(bundle: bundle)
            var paths = try FileManager.default.contentsOfDirectory(atPath: folder).sorted().map { folder + "/" + $0 }
            guard !paths.isEmpty else { throw ValidationError("\(folder): no images") }
            if largestOnly {
                var sizes: [(String, Int)] = []
                for p in paths {
                    let image = try ImageIO.load(p)
                    sizes.append((p, image.width * image.height))
                }
                paths = [sizes.max { $0.1 < $1.1 }!.0]
            }
            return {
                for p in paths { _ = try detector.detect(try ImageIO.load(p), confidence: 0.5) }
            }
        }
    }

    static func segmentation() -> BenchCase {
        let official = ProcessInfo.processInfo.environment["DETR_REPO"] != nil
        return BenchCase(name: segmentationCase, reference: official ? "facebookresearch/detr" : "transformers",
                         referenceScript: "model_ref.py", referenceArguments: [segmentationCase]) {
            Allocator.holdsAtMostPeak = true
            var config = DETRConfig()
            config.numClasses = 250
            config.maskHead = true
            var rng = SplitMix64(seed: 1)
            let model = config.makeNetwork(using: &rng)
            let images = Tensor.uniform([1, 3, 800, 1066], low: -2, high: 2, using: &rng)
            let mask = BoolTensor([Bool](repeating: false, count: 800 * 1066), shape: [1, 800, 1066])
            return {
                var ctx = ForwardContext.inference
                let out = withNoGrad { model(images: images, mask: mask, &ctx) }
                precondition(out.masks?.shape == [1, 100, 200, 267])
            }
        }
    }
}
