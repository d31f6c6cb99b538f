import Augment
import Base
import Datasets
import Eval
import Foundation
import Model
import NN
import Pipeline
import Tensor
import TestSupport
import XCTest

/// A Mask2Former checkpoint through the tools: saved and loaded as a family of the seam (a
/// folder and a bare .safetensors), `predict` for instances (masks as COCO RLE) and panoptic
/// segments, and `get-map coco --iou-type segm` / `get-map panoptic` on what predict wrote.
/// What the tools write is compared with the library's Mask2Former inference on the same
/// weights and image (inference is deterministic).
final class Mask2FormerToolTests: XCTestCase {
    static let classNames = ["circle", "square", "sky"]

    /// ResNet-18, width 32, 4 heads, one encoder layer, 3 decoder layers (one per level), 8
    /// queries; classes 0 and 1 things, 2 stuff. The panoptic thresholds are low so that the
    /// random model keeps segments.
    static func tinyConfig() -> Mask2FormerConfig {
        TinyConfig.mask2former(classes: classNames.count, thingClasses: [0, 1])
    }

    /// Two 64x48 demo images (PNG, so the tool reads the same pixels) in `<dir>/images`.
    func writeImages(_ dir: String) throws -> (folder: String, images: [RGBImage]) {
        let folder = dir + "/images"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var images: [RGBImage] = []
        for (k, name) in ["a.png", "b.png"].enumerated() {
            var options = DemoData.Options()
            options.minSide = 64
            options.maxSide = 64
            var rng = SplitMix64(seed: UInt64(k + 5))
            let image = DemoData.makeImage(id: "x", options: options, using: &rng).0
            try FileIO.writeAtomically(folder + "/" + name, bytes: try ImageIO.encodePNG(image))
            images.append(image)
        }
        return (folder, images)
    }

    /// The library's run of the checkpoint on an image: the last prediction of the Mask2Former
    /// network on the normalised image (48 pixels high: no resizing), its mask logits brought
    /// to the image's size as the official `sem_seg_postprocess`.
    static func libraryRun(_ bundle: ModelBundle, _ image: RGBImage) throws -> (classLogits: Tensor, masks: Tensor) {
        let model = try XCTUnwrap(bundle.network as? Mask2Former)
        let input = Normalization.imageNet(Sample(image: image, target: Target(boxes: [], labels: []))).image
            .reshape([1, 3, image.height, image.width])
        var ctx = ForwardContext(training: false)
        let last = withNoGrad { model(images: input, &ctx).last }
        let size = (height: image.height, width: image.width)
        let masks = Mask2FormerInference.resizedMasks(last.maskLogits.squeeze(0), paddedSize: size, imageSize: size, outputSize: size)
        return (last.classLogits.squeeze(0), masks)
    }

    func readJSON(_ path: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Checkpoint folder and bare .safetensors load as the mask2former family with the same
    /// weights; predict's instances (class, score, RLE mask, box = the mask's extent) are the
    /// library's; get-map coco --iou-type segm on detections.json equals COCOeval on the
    /// library's instances written by the test.
    func testInstances_PredictAndSegmMapAgreeWithLibrary() throws {
        let dir = try makeTemporaryDirectory("detrkit-m2f")
        let config = Self.tinyConfig()
        let ck = dir + "/ck"
        try ModelBundle.fresh(config: config, classNames: Self.classNames, inputSize: 48, seed: 21).save(to: ck)
        let state = try XCTUnwrap(readJSON(ck + "/state.json") as? [String: Any])
        XCTAssertEqual(state["model"] as? String, "mask2former")
        let bundle = try ModelBundle.load(ck)
        XCTAssertEqual(bundle.config, ModelConfig(config))
        XCTAssertEqual(bundle.classNames, Self.classNames)

        // A bare state dict: recognised by its keys, the architecture read off the shapes.
        let bare = dir + "/m2f.safetensors"
        try SafeTensors.write(bundle.network.stateDict(), to: bare)
        let fromBare = try ModelBundle.load(bare, numClasses: 3)
        XCTAssertEqual(fromBare.config.family, "mask2former")
        let inferred = try XCTUnwrap(fromBare.config.as(Mask2FormerConfig.self))
        XCTAssertEqual([inferred.hiddenDim, inferred.numQueries, inferred.decoderLayers, inferred.encoderLayers, inferred.heads],
                       [32, 8, 3, 1, 4])
        let a = bundle.network.stateDict(), b = fromBare.network.stateDict()
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        XCTAssertTrue(a.allSatisfy { k, t in b[k].map { $0.scalars == t.scalars } ?? false })

        let (folder, images) = try writeImages(dir)
        let out = dir + "/out"
        let r = try ToolRunner.run("predict", [folder, "--weights", ck, "--out", out, "--confidence", "0"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let entries = try XCTUnwrap(readJSON(out + "/detections.json") as? [[String: Any]])
        XCTAssertEqual(entries.count, 2 * config.testTopK)

        var gtAnnotations: [String] = [], libraryResults: [String] = []
        for (k, image) in images.enumerated() {
            let (classLogits, masks) = try Self.libraryRun(bundle, image)
            let expected = Mask2FormerInference.instances(classLogits: classLogits, masks: masks, topK: config.testTopK)
            let got = entries.filter { ($0["image_id"] as? Int) == k }
            XCTAssertEqual(got.count, expected.count)
            for (e, g) in zip(expected, got) {
                XCTAssertEqual(g["category_id"] as? Int, e.label)
                XCTAssertEqual(Float((g["score"] as? Double) ?? -1), e.score, accuracy: 1e-6)
                let seg = try XCTUnwrap(g["segmentation"] as? [String: Any])
                XCTAssertEqual(seg["size"] as? [Int], [image.height, image.width])
                let rle = try XCTUnwrap(RLE(compressed: try XCTUnwrap(seg["counts"] as? String), height: image.height, width: image.width))
                XCTAssertEqual(rle.decodeRowMajor(), e.mask.map { $0 ? 1 : 0 })
                let box = try XCTUnwrap(g["bbox"] as? [Double])
                let extent = rle.boundingBox
                XCTAssertEqual(box, rle.area > 0 ? [extent.x, extent.y, extent.width, extent.height] : [0, 0, 0, 0])
            }
            // The drawing shows the instances.
            let drawn = try ImageIO.load(out + "/" + ["a", "b"][k] + ".png")
            XCTAssertEqual(drawn.pixels.count, image.pixels.count)
            XCTAssertNotEqual(drawn.pixels, image.pixels)
            // Ground truth: the library's first two instances; results: all of them, as COCO JSON.
            for (j, e) in expected.enumerated() {
                let rle = RLE(rowMajorMask: e.mask.map { $0 ? 1 : 0 }, height: image.height, width: image.width)
                let seg = "{\"size\": [\(image.height), \(image.width)], \"counts\": \(jsonString(rle.compressedString))}"
                if j < 2 && rle.area > 0 {
                    let b = rle.boundingBox
                    gtAnnotations.append("{\"id\": \(gtAnnotations.count + 1), \"image_id\": \(k), \"category_id\": \(e.label), "
                        + "\"segmentation\": \(seg), \"area\": \(rle.area), \"bbox\": [\(b.x), \(b.y), \(b.width), \(b.height)], \"iscrowd\": 0}")
                }
                libraryResults.append("{\"image_id\": \(k), \"category_id\": \(e.label), \"score\": \(e.score), \"segmentation\": \(seg)}")
            }
        }
        XCTAssertFalse(gtAnnotations.isEmpty)
        let gt = dir + "/gt.json", libraryPath = dir + "/library.json"
        let imagesJSON = images.indices.map { "{\"id\": \($0), \"file_name\": \"\(["a", "b"][$0]).png\", \"width\": 64, \"height\": 48}" }
        let categories = Self.classNames.indices.map { "{\"id\": \($0), \"name\": \"\(Self.classNames[$0])\"}" }
        try FileIO.writeAtomically(gt, text: "{\"images\": [\(imagesJSON.joined(separator: ", "))], \"annotations\": [\(gtAnnotations.joined(separator: ", "))], "
            + "\"categories\": [\(categories.joined(separator: ", "))]}")
        try FileIO.writeAtomically(libraryPath, text: "[" + libraryResults.joined(separator: ", ") + "]")

        let report = dir + "/segm.json"
        let m = try ToolRunner.run("get-map", ["coco", "--gt", gt, "--dt", out + "/detections.json", "--iou-type", "segm", "--json", report])
        XCTAssertEqual(m.status, 0, m.stderr)
        let library = try COCOEvaluator.evaluate(groundTruthPath: gt, resultsPath: libraryPath, params: COCOEvalParams(iouType: .segm))
        let gtData = try COCOInstances.load(gt)
        XCTAssertEqual(try String(contentsOfFile: report, encoding: .utf8), library.result.jsonReport(gtData.categories))
        // Every ground-truth mask is one of the results: AP@0.5 is positive.
        XCTAssertGreaterThan(library.result.stats[1], 0)

        // get-map coco running the checkpoint itself over the ground truth's images.
        let run = dir + "/run.json", runReport = dir + "/segm-run.json"
        let g = try ToolRunner.run("get-map", ["coco", "--gt", gt, "--dt", run, "--iou-type", "segm", "--json", runReport,
                                               "--weights", ck, "--images", folder, "--confidence", "0"])
        XCTAssertEqual(g.status, 0, g.stderr)
        XCTAssertEqual(try String(contentsOfFile: runReport, encoding: .utf8), library.result.jsonReport(gtData.categories))
        XCTAssertEqual((try readJSON(run) as? [Any])?.count, 2 * config.testTopK)
    }

    /// predict --task panoptic writes the library's panoptic segmentation as COCO panoptic PNGs
    /// and JSON; get-map panoptic reads them and equals the library's PQ evaluation of the same
    /// files (against themselves: every segment matched, PQ 1).
    func testPanoptic_PredictWritesLibrarySegmentsThatGetMapReads() throws {
        let dir = try makeTemporaryDirectory("detrkit-m2f")
        let config = Self.tinyConfig()
        let ck = dir + "/ck"
        let fresh = ModelBundle.fresh(config: config, classNames: Self.classNames, inputSize: 48, seed: 21)
        try fresh.save(to: ck)
        let (folder, images) = try writeImages(dir)
        let out = dir + "/out"
        let r = try ToolRunner.run("predict", [folder, "--weights", ck, "--out", out, "--confidence", "0", "--task", "panoptic"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = out + "/panoptic.json"
        let written = try COCOPanoptic.load(json)
        XCTAssertEqual(written.categories.map(\.isThing), [1, 1, 0])
        XCTAssertEqual(written.annotations.count, 2)
        var segmentCount = 0
        for (k, image) in images.enumerated() {
            let (classLogits, masks) = try Self.libraryRun(fresh, image)
            let expected = Mask2FormerInference.panoptic(classLogits: classLogits, masks: masks, isThing: { $0 < 2 },
                                                         objectMaskThreshold: 0.3, overlapThreshold: 0.3)
            segmentCount += expected.segments.count
            let annotation = try XCTUnwrap(written.annotations.first { $0.imageID == .int(k) })
            XCTAssertEqual(annotation.fileName, ["a", "b"][k] + ".png")
            let png = try ImageIO.load(out + "/panoptic/" + annotation.fileName)
            XCTAssertEqual(png.pixels, expected.rgb)
            XCTAssertEqual(annotation.segments.map(\.id), expected.segments.map(\.id))
            XCTAssertEqual(annotation.segments.map(\.categoryID), expected.segments.map(\.categoryId))
        }
        XCTAssertGreaterThan(segmentCount, 0, "the random model keeps no segment: the test checks nothing")

        let report = dir + "/pq.json"
        let m = try ToolRunner.run("get-map", ["panoptic", "--gt-json", json, "--pred-json", json, "--json", report])
        XCTAssertEqual(m.status, 0, m.stderr)
        let library = try PanopticQuality.evaluate(groundTruthJSON: json, groundTruthFolder: out + "/panoptic",
                                                   predictionJSON: json, predictionFolder: out + "/panoptic")
        XCTAssertEqual(try String(contentsOfFile: report, encoding: .utf8), library.jsonText())
        XCTAssertEqual(library.all.pq, 1, accuracy: 1e-12)

        // get-map panoptic running the checkpoint over the ground truth's images (here predict's
        // segments): the same segments, so the same report.
        let pred = dir + "/pred.json", runReport = dir + "/pq-run.json"
        let g = try ToolRunner.run("get-map", ["panoptic", "--gt-json", json, "--gt-folder", out + "/panoptic", "--pred-json", pred,
                                               "--json", runReport, "--weights", ck, "--images", folder])
        XCTAssertEqual(g.status, 0, g.stderr)
        XCTAssertEqual(try String(contentsOfFile: runReport, encoding: .utf8), library.jsonText())
        for name in ["a.png", "b.png"] {
            XCTAssertEqual(try ImageIO.load(dir + "/pred/" + name).pixels, try ImageIO.load(out + "/panoptic/" + name).pixels, name)
        }
    }

    /// get-map semantic --weights writes the checkpoint's label maps (the argmax of the library's
    /// semantic scores, each class written as its line in --classes) and evaluates them as the
    /// library's SemanticConfusion does.
    func testSemantic_GetMapWritesTheLibrarysLabelMapsAndTheirMIoU() throws {
        let dir = try makeTemporaryDirectory("detrkit-m2f")
        let ck = dir + "/ck"
        // Seed 37: a random model whose label maps hold two classes within each image (most
        // seeds give one class everywhere).
        let fresh = ModelBundle.fresh(config: Self.tinyConfig(), classNames: Self.classNames, inputSize: 48, seed: 37)
        try fresh.save(to: ck)
        let (folder, images) = try writeImages(dir)
        try FileIO.makeDirectories(dir + "/gt")
        // The classes file in another order than the checkpoint's: "sky" is label 0.
        let fileOrder = ["sky", "circle", "square"]
        try (fileOrder.joined(separator: "\n") + "\n").write(toFile: dir + "/classes.txt", atomically: true, encoding: .utf8)
        var expected = SemanticConfusion(classCount: 3)
        var expectedMaps: [[UInt8]] = []
        for (k, image) in images.enumerated() {
            let n = image.width * image.height
            let truth = (0..<n).map { i in i % 11 == 0 ? UInt8(255) : UInt8((i / 7 + k) % 3) }
            try ImageIO.saveIndexed(IndexedImage(width: image.width, height: image.height, indices: truth, palette: IndexedImage.vocPalette),
                                    to: dir + "/gt/" + ["a", "b"][k] + ".png")
            let (classLogits, masks) = try Self.libraryRun(fresh, image)
            let s = Mask2FormerInference.semantic(classLogits: classLogits, masks: masks).scalars
            let labels = (0..<n).map { i -> UInt8 in
                var best = 0
                for c in 1..<3 where s[c * n + i] > s[best * n + i] { best = c }
                return UInt8(fileOrder.firstIndex(of: Self.classNames[best])!)
            }
            expectedMaps.append(labels)
            try expected.add(groundTruth: truth, prediction: labels, width: image.width, image: "\(k)")
        }
        XCTAssertGreaterThan(Set(expectedMaps.joined()).count, 1, "the random model predicts one class only: a weak check")
        let r = try ToolRunner.run("get-map", ["semantic", "--gt", "gt", "--pred", "pred", "--classes", "classes.txt", "--json", "out.json",
                                               "--weights", ck, "--images", folder], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        for (k, name) in ["a", "b"].enumerated() {
            XCTAssertEqual(try ImageIO.loadIndexed(dir + "/pred/" + name + ".png").indices, expectedMaps[k], name)
        }
        XCTAssertEqual(try String(contentsOfFile: dir + "/out.json", encoding: .utf8),
                       expected.result.jsonText(classNames: fileOrder))
        // predict --task semantic: the same label maps in the checkpoint's class order, and one
        // region per class present (score 1, the region as its RLE mask).
        let p = try ToolRunner.run("predict", [folder, "--weights", ck, "--out", dir + "/sem", "--task", "semantic"])
        XCTAssertEqual(p.status, 0, p.stderr)
        let entries = try XCTUnwrap(readJSON(dir + "/sem/detections.json") as? [[String: Any]])
        for (k, name) in ["a", "b"].enumerated() {
            let labels = expectedMaps[k].map { UInt8(Self.classNames.firstIndex(of: fileOrder[Int($0)])!) }
            XCTAssertEqual(try ImageIO.loadIndexed(dir + "/sem/semantic/" + name + ".png").indices, labels, name)
            let regions = entries.filter { ($0["image_id"] as? Int) == k }
            XCTAssertEqual(regions.compactMap { $0["category_id"] as? Int }, Set(labels).sorted().map(Int.init), name)
            for g in regions {
                XCTAssertEqual(g["score"] as? Double, 1)
                let seg = try XCTUnwrap(g["segmentation"] as? [String: Any])
                let rle = try XCTUnwrap(RLE(compressed: try XCTUnwrap(seg["counts"] as? String), height: images[k].height, width: images[k].width))
                XCTAssertEqual(rle.decodeRowMajor(), labels.map { Int($0) == (g["category_id"] as? Int) ? 1 : 0 }, name)
            }
        }
        // A box model is refused naming the checkpoint; --weights needs --images.
        let detr = dir + "/detr"
        try ModelBundle.fresh(config: TinyConfig.detr(queries: 4, decoderLayers: 1, classes: 3), classNames: Self.classNames,
                              inputSize: 48, seed: 1).save(to: detr)
        let b = try ToolRunner.run("get-map", ["semantic", "--gt", "gt", "--pred", "pred2", "--weights", detr, "--images", folder], in: dir)
        XCTAssertNotEqual(b.status, 0)
        XCTAssertTrue(b.stderr.contains(detr + ": a detr model predicts boxes; semantic labels need a mask classifier"), b.stderr)
        let noImages = try ToolRunner.run("get-map", ["semantic", "--gt", "gt", "--pred", "pred2", "--weights", ck], in: dir)
        XCTAssertTrue(noImages.stderr.contains("--weights needs --images"), noImages.stderr)
    }

    /// The panoptic task needs a mask classifier: asked of a box model, predict and get-map
    /// panoptic stop naming the checkpoint; --weights needs the images.
    func testPanopticOfABoxModel_IsAnErrorNamingTheCheckpoint() throws {
        let dir = try makeTemporaryDirectory("detrkit-m2f")
        let ck = dir + "/detr"
        try ModelBundle.fresh(config: TinyConfig.detr(queries: 4, decoderLayers: 1, classes: 3), classNames: Self.classNames,
                              inputSize: 48, seed: 3).save(to: ck)
        let (folder, _) = try writeImages(dir)
        let p = try ToolRunner.run("predict", [folder, "--weights", ck, "--out", dir + "/out", "--task", "panoptic"])
        XCTAssertNotEqual(p.status, 0)
        XCTAssertTrue(p.stderr.contains(ck) && p.stderr.contains("detr model"), p.stderr)
        try FileIO.writeAtomically(dir + "/gt.json", text: "{\"annotations\": [], \"categories\": []}")
        try FileManager.default.createDirectory(atPath: dir + "/gt", withIntermediateDirectories: true)
        let g = try ToolRunner.run("get-map", ["panoptic", "--gt-json", dir + "/gt.json", "--pred-json", dir + "/pred.json",
                                               "--weights", ck, "--images", folder])
        XCTAssertNotEqual(g.status, 0)
        XCTAssertTrue(g.stderr.contains(ck) && g.stderr.contains("mask classifier"), g.stderr)
        let c = try ToolRunner.run("get-map", ["coco", "--gt", dir + "/gt.json", "--dt", dir + "/dt.json", "--weights", ck])
        XCTAssertNotEqual(c.status, 0)
        XCTAssertTrue(c.stderr.contains("--weights needs --images"), c.stderr)
    }
}
