import Datasets
import Eval
import Foundation
import Model
import NN
import Pipeline
import Tensor
import TestSupport
import XCTest

/// DETR's segmentation head trained as the DETR paper does, through the tools: a box model
/// first (`detr-train --model detr`), then `detr-train --masks --weights <its checkpoint>`
/// (the DETR part frozen, the mask head learning); the mask checkpoint then goes through
/// `predict` (masks as COCO RLE, panoptic PNGs) and `get-map` (segm mAP, PQ), compared with the
/// library's own inference and evaluation of the same weights.
final class DETRMaskToolTests: XCTestCase {
    /// ResNet-18, width 128 (the mask head's group norms need a multiple of 128) with 8 heads
    /// (dModel + heads divisible by 8), one encoder and one decoder layer, 8 queries, input 64.
    static let tiny = ["--backbone", "resnet18", "--input-size", "64", "--d-model", "128", "--heads", "8", "--enc-layers", "1",
                       "--dec-layers", "1", "--ffn", "64", "--queries", "8", "--batch", "4", "--freeze-batch", "4", "--workers", "1",
                       "--eval-period", "1", "--save-period", "1"]

    /// The shapes set with its segmentation outputs in `<dir>/d` (10 images, 64-80 pixels: 8
    /// train, 2 val).
    func makeData(_ dir: String) throws -> VOCDevkit {
        let demo = try ToolRunner.run("demo-data", ["--output", dir + "/d", "--images", "10", "--seed", "4",
                                                    "--min-side", "64", "--max-side", "80", "--segmentation"], in: dir)
        XCTAssertEqual(demo.status, 0, demo.stderr)
        return VOCDevkit(root: dir + "/d/VOCdevkit")
    }

    /// The run folder whose checkpoint a `logs/<name>` link points to (`<run>/<name>`).
    func runFolder(_ dir: String, _ link: String) throws -> String {
        let target = try FileManager.default.destinationOfSymbolicLink(atPath: dir + "/" + link)
        return dir + "/logs/" + (target as NSString).deletingLastPathComponent
    }

    /// The numbered checkpoints of a run folder, in epoch order.
    func epochCheckpoints(_ run: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: run).filter { $0.hasPrefix("ep0") }.sorted().map { run + "/" + $0 }
    }

    func tensors(_ checkpoint: String) throws -> [String: Tensor] {
        try SafeTensors.read(checkpoint + "/model.safetensors").tensors
    }

    func readJSON(_ path: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Box model, then the mask head on it: the DETR part bit-identical to the box checkpoint
    /// after every epoch, the mask head changing, the mask terms logged; a box checkpoint of
    /// another architecture is refused (naming the file and a key); predict's masks and
    /// get-map coco --iou-type segm on the mask checkpoint agree with the library.
    func testMaskHeadOnFrozenBoxModel_PredictAndSegmMap() throws {
        let dir = try makeTemporaryDirectory("detrkit-detrmask")
        let kit = try makeData(dir)
        let lines = try ToolRunner.run("voc-annotation", [kit.root, "--mode", "2", "--image-sets", "segmentation",
                                                          "--classes", "d/classes.txt", "--output-dir", "."], in: dir)
        XCTAssertEqual(lines.status, 0, lines.stderr)
        let data = ["2007_train.txt", "--val", "2007_val.txt", "--classes", "d/classes.txt"]

        var r = try ToolRunner.run("detr-train", data + ["--epochs", "1"] + Self.tiny, in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        let boxRun = try runFolder(dir, "logs/best")
        // The box run trained its batch norms from scratch; the mask run's are frozen (no
        // `num_batches_tracked`), the rest of the box model loads.
        let box = try tensors(boxRun + "/best").filter { !$0.key.hasSuffix("num_batches_tracked") }
        XCTAssertFalse(box.keys.contains { $0.hasPrefix("detr.") })

        r = try ToolRunner.run("detr-train", data + ["--epochs", "2", "--masks", "--weights", boxRun + "/best"] + Self.tiny, in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("\(boxRun)/best: loaded \(box.count) tensors (a box model's, as the detr.* part"), r.stderr)
        XCTAssertTrue(r.stderr.contains("DETR frozen"), r.stderr)
        let epochs = r.lines.filter { $0.hasPrefix("Epoch ") }
        XCTAssertEqual(epochs.count, 2, r.stdout)
        for line in epochs {
            for term in [" ce ", " bbox ", " giou ", " mask ", " dice "] { XCTAssertTrue(line.contains(term), line) }
        }
        let maskRun = try runFolder(dir, "logs/last")
        XCTAssertNotEqual(maskRun, boxRun)
        let checkpoints = try epochCheckpoints(maskRun)
        XCTAssertEqual(checkpoints.count, 2, "\(checkpoints)")
        let first = try tensors(checkpoints[0]), second = try tensors(checkpoints[1])
        // The DETR part: the box model's tensors, bit for bit, after each epoch.
        for (k, t) in box {
            XCTAssertEqual(first["detr." + k]?.scalars, t.scalars, k)
            XCTAssertEqual(second["detr." + k]?.scalars, t.scalars, k)
        }
        let head = first.keys.filter { !$0.hasPrefix("detr.") }
        XCTAssertEqual(Set(head.map { String($0.split(separator: ".")[0]) }), ["bbox_attention", "mask_head"])
        XCTAssertEqual(first.count, box.count + head.count)
        // The mask head learns: its weights move between the epochs.
        let moved = head.filter { first[$0]!.scalars != second[$0]!.scalars }
        XCTAssertGreaterThan(moved.count, head.count / 2, "\(head.count - moved.count) of \(head.count) mask-head tensors did not change")
        // A resumed mask run keeps the DETR part frozen (the optimizer has the mask head only).
        r = try ToolRunner.run("detr-train", ["--resume", "logs/last", "--epochs", "3"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("Epoch 3/3 - loss"), r.stdout)
        let resumed = try tensors(maskRun + "/last")
        for (k, t) in box { XCTAssertEqual(resumed["detr." + k]?.scalars, t.scalars, k) }
        XCTAssertTrue(head.contains { resumed[$0]!.scalars != second[$0]!.scalars })
        let state = try XCTUnwrap(readJSON(maskRun + "/last/state.json") as? [String: Any])
        let config = try XCTUnwrap(state["config"] as? [String: Any])
        XCTAssertEqual(config["maskHead"] as? Bool, true)
        XCTAssertNil(config["task"])

        // A box checkpoint of another architecture cannot be the frozen part.
        let bad = try ToolRunner.run("detr-train", data + ["--epochs", "1", "--masks", "--weights", boxRun + "/best"] + Self.tiny
            + ["--queries", "6"], in: dir)
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains(boxRun + "/best") && bad.stderr.contains("detr.query_embed.weight") && bad.stderr.contains("frozen"),
                      bad.stderr)

        // predict: the masks of the library's Detector on the same weights and images.
        let ck = maskRun + "/last"
        let bundle = try ModelBundle.load(ck)
        let detector = Detector(bundle: bundle)
        XCTAssertEqual(detector.task, .instance)
        let ids = try kit.readImageSet("val", from: .segmentation).sorted()
        XCTAssertGreaterThanOrEqual(ids.count, 2)
        try FileIO.makeDirectories(dir + "/test_images")
        var images: [RGBImage] = []
        for id in ids {
            try FileManager.default.copyItem(atPath: kit.imagesDirectory + "/" + id + ".jpg", toPath: dir + "/test_images/" + id + ".jpg")
            images.append(try ImageIO.load(dir + "/test_images/" + id + ".jpg"))
        }
        r = try ToolRunner.run("predict", ["test_images", "--weights", ck, "--out", "out", "--confidence", "0"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        let entries = try XCTUnwrap(readJSON(dir + "/out/detections.json") as? [[String: Any]])
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out/panoptic.json"))
        let semantic = try ToolRunner.run("predict", ["test_images", "--weights", ck, "--out", "out2", "--task", "semantic"], in: dir)
        XCTAssertEqual(semantic.status, 1)
        XCTAssertTrue(semantic.stderr.contains("--task semantic: \(ck) is a detr model, which serves instance and panoptic"), semantic.stderr)
        var gtAnnotations: [String] = [], libraryResults: [String] = []
        var masked = 0
        for (k, image) in images.enumerated() {
            let expected = try detector.detect(image, confidence: 0)
            let masks = try XCTUnwrap(expected.masks)
            let got = entries.filter { ($0["image_id"] as? Int) == k }
            XCTAssertEqual(got.count, expected.detections.count)
            XCTAssertEqual(got.count, 8)
            for (j, (d, g)) in zip(expected.detections, got).enumerated() {
                XCTAssertEqual(g["category_id"] as? Int, d.label)
                XCTAssertEqual(Float((g["score"] as? Double) ?? -1), d.score, accuracy: 1e-6)
                let seg = try XCTUnwrap(g["segmentation"] as? [String: Any])
                XCTAssertEqual(seg["size"] as? [Int], [image.height, image.width])
                let rle = try XCTUnwrap(RLE(compressed: try XCTUnwrap(seg["counts"] as? String), height: image.height, width: image.width))
                XCTAssertEqual(rle.decodeRowMajor(), masks[j].map { $0 ? 1 : 0 })
                if rle.area > 0 { masked += 1 }
                // Ground truth: the first two non-empty masks; results: every detection.
                let json = "{\"size\": [\(image.height), \(image.width)], \"counts\": \(jsonString(rle.compressedString))}"
                if rle.area > 0 && gtAnnotations.filter({ $0.contains("\"image_id\": \(k),") }).count < 2 {
                    let b = rle.boundingBox
                    gtAnnotations.append("{\"id\": \(gtAnnotations.count + 1), \"image_id\": \(k), \"category_id\": \(d.label), "
                        + "\"segmentation\": \(json), \"area\": \(rle.area), \"bbox\": [\(b.x), \(b.y), \(b.width), \(b.height)], \"iscrowd\": 0}")
                }
                // With its box, as the tool writes it (COCO's loadRes takes a result's area from its box).
                let box = d.box
                libraryResults.append("{\"image_id\": \(k), \"category_id\": \(d.label), \"score\": \(d.score), "
                    + "\"bbox\": [\(box.x0), \(box.y0), \(box.x1 - box.x0), \(box.y1 - box.y0)], \"segmentation\": \(json)}")
            }
        }
        XCTAssertGreaterThan(masked, 0, "every mask is empty: the check is weak")
        XCTAssertFalse(gtAnnotations.isEmpty)

        // get-map coco --iou-type segm running the checkpoint: COCOeval of the library's results.
        let names = bundle.classNames
        let gt = dir + "/gt.json", libraryPath = dir + "/library.json"
        let imagesJSON = images.indices.map {
            "{\"id\": \($0), \"file_name\": \"\(ids[$0]).jpg\", \"width\": \(images[$0].width), \"height\": \(images[$0].height)}"
        }
        let categories = names.indices.map { "{\"id\": \($0), \"name\": \"\(names[$0])\"}" }
        try FileIO.writeAtomically(gt, text: "{\"images\": [\(imagesJSON.joined(separator: ", "))], \"annotations\": [\(gtAnnotations.joined(separator: ", "))], "
            + "\"categories\": [\(categories.joined(separator: ", "))]}")
        try FileIO.writeAtomically(libraryPath, text: "[" + libraryResults.joined(separator: ", ") + "]")
        let library = try COCOEvaluator.evaluate(groundTruthPath: gt, resultsPath: libraryPath, params: COCOEvalParams(iouType: .segm))
        XCTAssertGreaterThan(library.result.stats[1], 0)
        let report = dir + "/segm.json"
        let g = try ToolRunner.run("get-map", ["coco", "--gt", gt, "--dt", dir + "/run.json", "--iou-type", "segm", "--json", report,
                                               "--weights", ck, "--images", dir + "/test_images", "--confidence", "0"])
        XCTAssertEqual(g.status, 0, g.stderr)
        XCTAssertEqual(try String(contentsOfFile: report, encoding: .utf8), library.result.jsonReport(try COCOInstances.load(gt).categories))
    }

    /// COCO panoptic data: the mask head on a box model of the panoptic classes (things and
    /// stuff); the checkpoint keeps the panoptic task and the stuff classes; predict writes DETR's
    /// panoptic post-processing of the network's output (ids from 1, 0 void) and get-map
    /// panoptic --weights evaluates the same segments as the library's PQ.
    func testPanopticMaskHead_PredictAndGetMapPanoptic() throws {
        let dir = try makeTemporaryDirectory("detrkit-detrmask")
        let kit = try makeData(dir)
        let data = ["--coco-panoptic", "d/panoptic/panoptic_train.json", "--images", kit.imagesDirectory,
                    "--coco-panoptic-val", "d/panoptic/panoptic_val.json", "--val-images", kit.imagesDirectory]
        // The box model: the tiny flags' DETR over the panoptic classes, untrained (the test
        // above trains one; this one saves the time), as an official-style .pth
        // ({"model": state dict}, keys without `detr.`).
        let categories = DemoSegmentation.categories
        let boxConfig = TinyConfig.detr(queries: 8, decoderLayers: 1, classes: categories.count)
            .sized(dModel: 128, heads: 8, feedForward: 64, encoderLayers: 1, decoderLayers: 1, queries: 8, dropout: 0.1)
        let box = ModelBundle.fresh(config: boxConfig, classNames: categories.map(\.name), inputSize: 64, seed: 3).network.stateDict()
            .filter { !$0.key.hasSuffix("num_batches_tracked") }
        try TorchSave.legacy(box, wrapped: true).write(to: URL(fileURLWithPath: dir + "/box.pth"))
        var r = try ToolRunner.run("detr-train", data + ["--epochs", "1", "--masks", "--weights", "box.pth"] + Self.tiny, in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("box.pth: loaded \(box.count) tensors (a box model's, as the detr.* part"), r.stderr)
        XCTAssertTrue(r.stderr.contains("DETR frozen"), r.stderr)
        let ck = try runFolder(dir, "logs/last") + "/last"
        // The run validated with PQ (the panoptic task's metric).
        XCTAssertTrue(try String(contentsOfFile: runFolder(dir, "logs/last") + "/epochs.jsonl", encoding: .utf8).contains("\"pq\":"))
        var bundle = try ModelBundle.load(ck)
        let trained = bundle.network.stateDict()
        for (k, t) in box { XCTAssertEqual(trained["detr." + k]?.scalars, t.scalars, k) }
        var config = try XCTUnwrap(bundle.config.as(DETRConfig.self))
        XCTAssertEqual(config.task, .panoptic)
        XCTAssertEqual(bundle.classNames, categories.map(\.name))
        XCTAssertEqual(config.thingClasses, categories.indices.filter { categories[$0].isThing == 1 })
        // A threshold that keeps the barely trained model's segments (the official 0.85 would
        // keep none), saved as another checkpoint.
        config.panopticThreshold = 0.2
        bundle.state.config = ModelConfig(config)
        let low = dir + "/low"
        try bundle.save(to: low)
        bundle = try ModelBundle.load(low)
        let detector = Detector(bundle: bundle)
        XCTAssertEqual(detector.task, .panoptic)

        let gt = try COCOPanoptic.load(dir + "/d/panoptic/panoptic_val.json")
        r = try ToolRunner.run("predict", [kit.imagesDirectory, "--weights", low, "--out", "out", "--confidence", "0"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        let written = try COCOPanoptic.load(dir + "/out/panoptic.json")
        XCTAssertEqual(written.categories.map(\.isThing), categories.map(\.isThing))
        var segmentCount = 0
        for annotation in gt.annotations {
            let stem = (annotation.fileName as NSString).deletingPathExtension
            let image = try ImageIO.load(kit.imagesDirectory + "/" + stem + ".jpg")
            // The oracle: the library's port of PostProcessPanoptic on the network's output at
            // the image's size (the detr preset: no letterbox), its segments numbered from 1.
            let p = detector.prepare(image)
            let out = detector.run(p)
            let reference = postProcessPanoptic(logits: out.logits.squeeze(0), masks: try XCTUnwrap(out.masks).squeeze(0),
                                                isThing: { categories[$0].isThing == 1 }, processedSize: p.inputSize,
                                                targetSize: p.originalSize, threshold: 0.2)
            let kept = reference.segments.filter { $0.area > 0 }
            segmentCount += kept.count
            let png = try ImageIO.load(dir + "/out/panoptic/" + stem + ".png")
            let expectedIDs = reference.ids.map { id in Int32((kept.firstIndex { $0.id == Int(id) } ?? -1) + 1) }
            XCTAssertEqual(png.pixels, PanopticPrediction(height: image.height, width: image.width, ids: expectedIDs, segments: []).rgb, stem)
            let entry = try XCTUnwrap(written.annotations.first { $0.fileName == stem + ".png" })
            XCTAssertEqual(entry.segments.map(\.id), Array(1..<(kept.count + 1)))
            XCTAssertEqual(entry.segments.map(\.categoryID), kept.map(\.categoryId))
            XCTAssertEqual(entry.segments.map(\.area), kept.map { Double($0.area) })
        }
        XCTAssertGreaterThan(segmentCount, 0, "no segment kept: the check is weak")

        // get-map panoptic running the checkpoint over the validation images: its written
        // segments are predict's, and its PQ the library's on them.
        let pred = dir + "/pred.json", report = dir + "/pq.json"
        let g = try ToolRunner.run("get-map", ["panoptic", "--gt-json", "d/panoptic/panoptic_val.json", "--gt-folder", "d/panoptic/segments", "--pred-json", pred, "--json", report,
                                               "--weights", low, "--images", kit.imagesDirectory], in: dir)
        XCTAssertEqual(g.status, 0, g.stderr)
        for annotation in gt.annotations {
            XCTAssertEqual(try ImageIO.load(dir + "/pred/" + annotation.fileName).pixels,
                           try ImageIO.load(dir + "/out/panoptic/" + annotation.fileName).pixels, annotation.fileName)
        }
        let library = try PanopticQuality.evaluate(groundTruthJSON: dir + "/d/panoptic/panoptic_val.json",
                                                   groundTruthFolder: dir + "/d/panoptic/segments",
                                                   predictionJSON: pred, predictionFolder: dir + "/pred")
        XCTAssertEqual(try String(contentsOfFile: report, encoding: .utf8), library.jsonText())
    }
}
