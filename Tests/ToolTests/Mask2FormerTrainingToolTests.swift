import Base
import Datasets
import Eval
import Foundation
import Model
import Pipeline
import Tensor
import TestSupport
import XCTest

/// `detr-train --model mask2former` end to end on a tiny generated shapes set with masks
/// (`demo-data --segmentation`), for the three tasks, each checkpoint then run by `get-map`
/// (panoptic, coco --iou-type segm, semantic) and `predict`: the tools' numbers are the
/// library's evaluation of the library's Mask2Former inference on the trained weights
/// (`Mask2FormerToolTests.libraryRun`; the flip preset keeps images at their own size).
final class Mask2FormerTrainingToolTests: XCTestCase {
    static let tiny = ["--model", "mask2former", "--backbone", "resnet18", "--preset", "flip", "--input-size", "64",
                       "--d-model", "32", "--heads", "4", "--enc-layers", "1", "--dec-layers", "3", "--ffn", "64",
                       "--queries", "8", "--mask-points", "64", "--batch", "4", "--workers", "1", "--eval-period", "1",
                       "--save-period", "1", "--seed", "0"]
    static let jpegs = "VOCdevkit/VOC2007/JPEGImages"

    /// 12 images of 64-80 pixels with masks in `dir`; with `lists`, split and listed by
    /// voc-annotation from the segmentation image sets (2007_train.txt, 2007_val.txt).
    func makeSet(_ dir: String, lists: Bool) throws {
        var r = try ToolRunner.run("demo-data", ["--output", ".", "--images", "12", "--min-side", "64", "--max-side", "80",
                                                 "--seed", "4", "--segmentation"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        if lists {
            r = try ToolRunner.run("voc-annotation", ["VOCdevkit", "--classes", "classes.txt", "--mode", "2", "--image-sets", "segmentation"],
                                   in: dir)
            XCTAssertEqual(r.status, 0, r.stderr)
        }
    }

    /// The epoch lines of a run: each with finite ce, mask and dice terms; and the same terms,
    /// finite, in every record of the run's epochs.jsonl.
    func checkLossTerms(_ r: ToolRunner.Result, runFolder: String, epochs: Int) throws {
        let lines = r.lines.filter { $0.hasPrefix("Epoch ") && $0.contains(" - loss ") }
        XCTAssertFalse(lines.isEmpty, r.stdout)
        for line in lines {
            for term in ["ce", "mask", "dice"] {
                let words = line.split(separator: " ")
                let k = try XCTUnwrap(words.firstIndex(of: Substring(term)), line)
                XCTAssertTrue(Double(words[k + 1])?.isFinite ?? false, line)
            }
        }
        let records = try String(contentsOfFile: runFolder + "/epochs.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(records.count, epochs)
        for record in records {
            let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(record.utf8)) as? [String: Any])
            let terms = try XCTUnwrap(json["terms"] as? [String: Double], String(record))
            XCTAssertEqual(Set(terms.keys), ["ce", "mask", "dice"])
            XCTAssertTrue(terms.values.allSatisfy(\.isFinite), String(record))
        }
    }

    /// The only run folder under `dir/logs`.
    func runFolder(_ dir: String) throws -> String {
        let runs = try FileManager.default.contentsOfDirectory(atPath: dir + "/logs").filter { $0.hasPrefix("20") }
        XCTAssertEqual(runs.count, 1, "\(runs)")
        return dir + "/logs/" + (runs.first ?? "")
    }

    /// Panoptic on the generator's COCO panoptic set: a checkpoint of the panoptic task with the
    /// shapes as thing classes; a resumed run continues in the same folder; get-map panoptic
    /// --weights writes the library's panoptic segments and reports the library's PQ of them;
    /// predict --task panoptic writes the same segments.
    func testPanoptic_TrainResumeGetMapPredict() throws {
        let dir = try makeTemporaryDirectory("m2f-train-pan")
        try makeSet(dir, lists: false)
        let data = ["--coco-panoptic", "panoptic/panoptic_train.json", "--images", Self.jpegs,
                    "--coco-panoptic-val", "panoptic/panoptic_val.json", "--val-images", Self.jpegs]
        var r = try ToolRunner.run("detr-train", data + Self.tiny + ["--epochs", "1"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        let bundle = try ModelBundle.load(dir + "/logs/last")
        let config = try XCTUnwrap(bundle.config.as(Mask2FormerConfig.self))
        XCTAssertEqual(config.task, .panoptic)
        let categories = try COCOPanoptic.load(dir + "/panoptic/panoptic_train.json").categories
        XCTAssertEqual(bundle.classNames, categories.map(\.name))
        XCTAssertEqual(config.thingClasses, categories.indices.filter { categories[$0].isThing == 1 })
        XCTAssertEqual(config.thingClasses, [0, 1, 2])

        r = try ToolRunner.run("detr-train", ["--resume", "logs/last", "--epochs", "2"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("Epoch 2/2 - loss"), r.stdout)
        try checkLossTerms(r, runFolder: try runFolder(dir), epochs: 2)

        let trained = try ModelBundle.load(dir + "/logs/last")
        let m = try ToolRunner.run("get-map", ["panoptic", "--gt-json", "panoptic/panoptic_val.json", "--gt-folder", "panoptic/segments",
                                               "--pred-json", "pred.json", "--json", "pq.json", "--weights", "logs/last",
                                               "--images", Self.jpegs], in: dir)
        XCTAssertEqual(m.status, 0, m.stderr)
        let gt = try COCOPanoptic.load(dir + "/panoptic/panoptic_val.json")
        let trainedConfig = try XCTUnwrap(trained.config.as(Mask2FormerConfig.self))
        for annotation in gt.annotations {
            let stem = (annotation.fileName as NSString).deletingPathExtension
            let image = try ImageIO.load(dir + "/" + Self.jpegs + "/" + stem + ".jpg")
            let (classLogits, masks) = try Mask2FormerToolTests.libraryRun(trained, image)
            let expected = Mask2FormerInference.panoptic(classLogits: classLogits, masks: masks, isThing: { $0 < 3 },
                                                         objectMaskThreshold: trainedConfig.objectMaskThreshold,
                                                         overlapThreshold: trainedConfig.overlapThreshold)
            XCTAssertEqual(try ImageIO.load(dir + "/pred/" + stem + ".png").pixels, expected.rgb, stem)
        }
        let library = try PanopticQuality.evaluate(groundTruthJSON: dir + "/panoptic/panoptic_val.json",
                                                   groundTruthFolder: dir + "/panoptic/segments",
                                                   predictionJSON: dir + "/pred.json", predictionFolder: dir + "/pred")
        XCTAssertEqual(try String(contentsOfFile: dir + "/pq.json", encoding: .utf8), library.jsonText())
        XCTAssertTrue((0...1).contains(library.all.pq))

        // predict on the same images writes the same segments.
        try FileManager.default.createDirectory(atPath: dir + "/val_images", withIntermediateDirectories: true)
        for annotation in gt.annotations {
            let name = (annotation.fileName as NSString).deletingPathExtension + ".jpg"
            try FileManager.default.copyItem(atPath: dir + "/" + Self.jpegs + "/" + name, toPath: dir + "/val_images/" + name)
        }
        let p = try ToolRunner.run("predict", ["val_images", "--weights", "logs/last", "--out", "out", "--task", "panoptic"], in: dir)
        XCTAssertEqual(p.status, 0, p.stderr)
        for annotation in gt.annotations {
            XCTAssertEqual(try ImageIO.load(dir + "/out/panoptic/" + annotation.fileName).pixels,
                           try ImageIO.load(dir + "/pred/" + annotation.fileName).pixels, annotation.fileName)
        }
    }

    /// Instances from a VOC devkit's lines file (masks from SegmentationObject): an instance
    /// checkpoint; get-map coco --iou-type segm --weights on the generator's instances file
    /// equals COCOeval of the library's instances (score above get-map's 0.001) of the same
    /// images.
    func testInstances_VOCLinesTrainAndSegmMap() throws {
        let dir = try makeTemporaryDirectory("m2f-train-ins")
        try makeSet(dir, lists: true)
        let r = try ToolRunner.run("detr-train", ["2007_train.txt", "--val", "2007_val.txt", "--classes", "classes.txt", "--epochs", "1"]
                                   + Self.tiny, in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        try checkLossTerms(r, runFolder: try runFolder(dir), epochs: 1)
        let trained = try ModelBundle.load(dir + "/logs/last")
        let config = try XCTUnwrap(trained.config.as(Mask2FormerConfig.self))
        XCTAssertEqual(config.task, .instance)
        XCTAssertEqual(trained.classNames, DemoData.classNames)

        let m = try ToolRunner.run("get-map", ["coco", "--gt", "panoptic/instances_val.json", "--dt", "dt.json", "--iou-type", "segm",
                                               "--json", "segm.json", "--weights", "logs/last", "--images", Self.jpegs], in: dir)
        XCTAssertEqual(m.status, 0, m.stderr)
        let gt = try COCOInstances.load(dir + "/panoptic/instances_val.json")
        var results: [String] = []
        for image in gt.images {
            let (classLogits, masks) = try Mask2FormerToolTests.libraryRun(trained, try ImageIO.load(dir + "/" + Self.jpegs + "/" + image.fileName))
            for e in Mask2FormerInference.instances(classLogits: classLogits, masks: masks, topK: config.testTopK) where e.score > 0.001 {
                let rle = RLE(rowMajorMask: e.mask.map { $0 ? 1 : 0 }, height: image.height, width: image.width)
                results.append("{\"image_id\": \(image.id), \"category_id\": \(e.label + 1), \"score\": \(e.score), \"segmentation\": \(rle.resultJSON)}")
            }
        }
        XCTAssertFalse(results.isEmpty)
        try FileIO.writeAtomically(dir + "/library.json", text: "[" + results.joined(separator: ", ") + "]")
        let library = try COCOEvaluator.evaluate(groundTruthPath: dir + "/panoptic/instances_val.json", resultsPath: dir + "/library.json",
                                                 params: COCOEvalParams(iouType: .segm))
        XCTAssertEqual(try String(contentsOfFile: dir + "/segm.json", encoding: .utf8), library.result.jsonReport(gt.categories))
    }

    /// Semantic (`--task semantic`) from a VOC devkit's lines file (regions per class from
    /// SegmentationClass; classes: background, then the classes file's): get-map semantic
    /// --weights writes the library's label maps and their mIoU.
    func testSemantic_VOCLinesTrainAndMIoU() throws {
        let dir = try makeTemporaryDirectory("m2f-train-sem")
        try makeSet(dir, lists: true)
        let r = try ToolRunner.run("detr-train", ["2007_train.txt", "--val", "2007_val.txt", "--classes", "classes.txt", "--epochs", "1",
                                                  "--task", "semantic"] + Self.tiny, in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        try checkLossTerms(r, runFolder: try runFolder(dir), epochs: 1)
        let trained = try ModelBundle.load(dir + "/logs/last")
        XCTAssertEqual(try XCTUnwrap(trained.config.as(Mask2FormerConfig.self)).task, .semantic)
        let names = ["background"] + DemoData.classNames
        XCTAssertEqual(trained.classNames, names)
        try (names.joined(separator: "\n") + "\n").write(toFile: dir + "/semantic_classes.txt", atomically: true, encoding: .utf8)

        let gtFolder = "VOCdevkit/VOC2007/SegmentationClass"
        let m = try ToolRunner.run("get-map", ["semantic", "--gt", gtFolder, "--pred", "pred", "--classes", "semantic_classes.txt",
                                               "--json", "miou.json", "--weights", "logs/last", "--images", Self.jpegs], in: dir)
        XCTAssertEqual(m.status, 0, m.stderr)
        var expected = SemanticConfusion(classCount: names.count)
        for name in try FileManager.default.contentsOfDirectory(atPath: dir + "/" + gtFolder).sorted() {
            let stem = (name as NSString).deletingPathExtension
            let image = try ImageIO.load(dir + "/" + Self.jpegs + "/" + stem + ".jpg")
            let (classLogits, masks) = try Mask2FormerToolTests.libraryRun(trained, image)
            let s = Mask2FormerInference.semantic(classLogits: classLogits, masks: masks).scalars
            let n = image.width * image.height
            let labels = (0..<n).map { i -> UInt8 in
                var best = 0
                for c in 1..<names.count where s[c * n + i] > s[best * n + i] { best = c }
                return UInt8(best)
            }
            XCTAssertEqual(try ImageIO.loadIndexed(dir + "/pred/" + stem + ".png").indices, labels, stem)
            try expected.add(groundTruth: try ImageIO.loadIndexed(dir + "/" + gtFolder + "/" + name).indices, prediction: labels,
                             width: image.width, image: stem)
        }
        XCTAssertEqual(try String(contentsOfFile: dir + "/miou.json", encoding: .utf8), expected.result.jsonText(classNames: names))
    }
}
