import Augment
import Base
import Datasets
import Eval
import Foundation
import Model
@testable import Pipeline
import TestSupport
import XCTest

/// The mask validation metrics (`Validation.maskAP`, `panopticQuality`, `meanIoU`) of a tiny
/// random Mask2Former on the shapes set with segmentation, against the file-based evaluations
/// on what the tools write: COCOeval (segm) on a results file and an instances file written from
/// the panoptic PNGs, panopticapi's PQ on PanopticWriter's PNGs and the set's own panoptic files,
/// and the pixel confusion of the VOC class PNGs. Ground truth equal to the model's own output
/// scores 1.
final class MaskMetricsTests: XCTestCase {
    /// The shapes set's panoptic training images (things, stuff and a crowd region in image 2), crowds kept.
    func panopticDemo() throws -> COCOPanopticDataset {
        let summary = try makeSegmentationDemo(images: 4, minSide: 48, maxSide: 64, seed: 20)
        let seg = try XCTUnwrap(summary.segmentation)
        return try COCOPanopticDataset(annotationFile: seg.panopticTrainJSON, imagesDirectory: VOCDevkit(root: summary.devkit).imagesDirectory,
                                       includeCrowd: true)
    }

    func model(_ classNames: [String], things: [Int]) -> ModelBundle {
        ModelBundle.fresh(config: TinyConfig.mask2former(classes: classNames.count, thingClasses: things), classNames: classNames,
                          inputSize: 48, seed: 21)
    }

    func write(_ text: String, _ path: String) throws {
        try FileIO.writeAtomically(path, text: text)
    }

    /// Ground truth with added (or only) objects of the model's own output.
    func testMaskAP_EqualsCOCOEvalOfTheWrittenFiles() throws {
        let demo = try panopticDemo()
        XCTAssertTrue(demo.annotations.contains { $0.segments.contains { $0.isCrowd == 1 } }, "the set has crowd regions")
        let bundle = model(demo.categories.map(\.name), things: [0, 1, 2])
        let found = try assertMaskAPEqualsFiles(bundle, demo)

        // Ground truth = every instance of the model (none has an empty mask here, which would
        // overlap nothing): AP 1.
        let own = try found.map { r in Array(zip(r.detections, try XCTUnwrap(r.masks)).map { (label: $0.label, mask: $1) }) }
        XCTAssertFalse(own.joined().contains { !$0.mask.contains(true) })
        let perfect = try Validation.maskAP(bundle: bundle, dataset: ExtendedDataset(base: demo, extra: own, replaced: true))
        XCTAssertEqual(perfect.ap50, 1)
        XCTAssertEqual(perfect.map, 1)
    }

    /// DETR's segmentation head (the smallest width it takes: 128, 8 heads) gives its instance
    /// masks through `detect`: measured the same way.
    func testMaskAP_DETRMaskHead() throws {
        let demo = try panopticDemo()
        var c = TinyConfig.detr(queries: 6, classes: demo.categories.count)
            .sized(dModel: 128, heads: 8, feedForward: 64, encoderLayers: 1, decoderLayers: 1, queries: 6, dropout: 0)
        c.maskHead = true
        XCTAssertEqual(c.problems(), [])
        try assertMaskAPEqualsFiles(ModelBundle.fresh(config: c, classNames: demo.categories.map(\.name), inputSize: 48, seed: 3), demo)
    }

    /// The ground truth: the demo's segments and, so that AP is neither 0 nor 1, two of the
    /// model's instances per image. Returns the model's detections.
    @discardableResult
    func assertMaskAPEqualsFiles(_ bundle: ModelBundle, _ demo: COCOPanopticDataset,
                                 file: StaticString = #filePath, line: UInt = #line) throws -> [DetectionResult] {
        let names = bundle.classNames
        let detector = Detector(bundle: bundle, task: .instance)
        let images = try (0..<demo.count).map { try ImageIO.load(demo.imagePath(at: $0)) }
        let found = try images.map { try detector.detect($0, confidence: 0.001) }
        let extra = try found.map { r in Array(zip(r.detections, try XCTUnwrap(r.masks)).prefix(2).map { (label: $0.label, mask: $1) }) }
        let data = ExtendedDataset(base: demo, extra: extra)
        let got = try Validation.maskAP(bundle: bundle, dataset: data)
        // Two processes' records (images 0 and 2, then 1) gathered in rank order: the same numbers.
        let shards = try (0..<2).map {
            try Validation.maskAPRecords(bundle: bundle, dataset: data, shard: Validation.Shard(rank: $0, processes: 2), progress: { _, _ in })
        }
        let sharded = try Validation.maskAP(records: shards, bundle: bundle, dataset: data)
        XCTAssertEqual(sharded.ap50, got.ap50, file: file, line: line)
        XCTAssertEqual(sharded.map, got.map, file: file, line: line)

        var imageEntries: [String] = [], annotations: [String] = [], results: [String] = []
        for (i, image) in images.enumerated() {
            let w = image.width, h = image.height
            imageEntries.append("{\"id\": \(i), \"width\": \(w), \"height\": \(h), \"file_name\": \"\(i).png\"}")
            let map = try PanopticSegmentMap.load(demo.segmentsPath(at: i))
            var objects = try demo.annotations[i].segments.map { s in
                (label: try XCTUnwrap(demo.categories.firstIndex { $0.id == s.categoryID }), crowd: s.isCrowd == 1,
                 rle: RLE(rowMajorMask: map.ids.map { $0 == UInt32(s.id) ? 1 : 0 }, height: h, width: w))
            }
            objects += extra[i].map { (label: $0.label, crowd: false, rle: RLE(rowMajor: $0.mask, height: h, width: w)) }
            for o in objects {
                let b = o.rle.boundingBox
                annotations.append("{\"id\": \(annotations.count + 1), \"image_id\": \(i), \"category_id\": \(o.label), "
                    + "\"iscrowd\": \(o.crowd ? 1 : 0), \"area\": \(o.rle.area), \"bbox\": [\(b.x), \(b.y), \(b.width), \(b.height)], "
                    + "\"segmentation\": \(o.rle.resultJSON)}")
            }
            for (d, mask) in zip(found[i].detections, found[i].masks!) {
                let b = d.box
                results.append("{\"image_id\": \(i), \"category_id\": \(d.label), \"bbox\": [\(b.x0), \(b.y0), \(b.x1 - b.x0), \(b.y1 - b.y0)], "
                    + "\"score\": \(Double(d.score)), \"segmentation\": \(RLE(rowMajor: mask, height: h, width: w).resultJSON)}")
            }
        }
        let categories = names.enumerated().map { "{\"id\": \($0.offset), \"name\": \(jsonString($0.element))}" }
        let dir = try makeTemporaryDirectory("mask-metrics")
        try write("{\"images\": [\(imageEntries.joined(separator: ", "))], \"categories\": [\(categories.joined(separator: ", "))], "
                  + "\"annotations\": [\(annotations.joined(separator: ",\n"))]}", dir + "/gt.json")
        try write("[\(results.joined(separator: ",\n"))]", dir + "/results.json")
        let expected = try COCOEvaluator.evaluate(groundTruthPath: dir + "/gt.json", resultsPath: dir + "/results.json",
                                                  params: COCOEvalParams(iouType: .segm)).result.stats
        XCTAssertEqual(got.ap50, max(expected[1], 0), file: file, line: line)
        XCTAssertEqual(got.map, max(expected[0], 0), file: file, line: line)
        XCTAssertGreaterThan(got.map, 0, file: file, line: line)
        XCTAssertLessThan(got.map, 1, file: file, line: line)
        return found
    }

    /// Image 1's ground truth is the model's own segmentation (PQ 1 there); the others', the
    /// set's. The file-based PQ reads the set's PNGs and JSON entries, PanopticWriter's PNG of
    /// image 1's prediction as its ground truth, and PanopticWriter's predictions.
    func testPanopticQuality_EqualsTheFileEvaluation() throws {
        let demo = try panopticDemo()
        let bundle = model(demo.categories.map(\.name), things: [0, 1, 2])
        let detector = Detector(bundle: bundle, task: .panoptic)
        let predictions = try (0..<demo.count).map { try XCTUnwrap(detector.detect(ImageIO.load(demo.imagePath(at: $0)), confidence: 0.001).panoptic) }
        XCTAssertTrue(predictions.allSatisfy { !$0.segments.isEmpty })
        let own = predictions.map { p in p.segments.map { s in (label: s.categoryId, mask: p.ids.map { $0 == Int32(s.id) }) } }
        let perfect = 1
        var extra = [[(label: Int, mask: [Bool])]](repeating: [], count: demo.count)
        extra[perfect] = own[perfect]
        let data = ExtendedDataset(base: demo, extra: extra, replacing: [perfect])
        let got = try Validation.panopticQuality(bundle: bundle, dataset: data, isThing: demo.isThing)
        let shards = try (0..<2).map {
            try Validation.panopticRecords(bundle: bundle, dataset: data, shard: Validation.Shard(rank: $0, processes: 2), progress: { _, _ in })
        }
        let sharded = Validation.panopticQuality(records: shards, bundle: bundle, isThing: demo.isThing)
        XCTAssertEqual([sharded.pq, sharded.sq, sharded.rq], [got.pq, got.sq, got.rq])

        let dir = try makeTemporaryDirectory("mask-metrics")
        let ids = demo.categories.map(\.id)
        let items = (0..<demo.count).map {
            PanopticWriter.Item(imageID: demo.annotations[$0].imageID, fileName: "prediction\($0).png", prediction: predictions[$0])
        }
        try PanopticWriter.write(items, categoryIDs: ids, json: dir + "/pred.json", folder: dir + "/pred")
        try PanopticWriter.write([items[perfect]], categoryIDs: ids, categories: demo.categories, json: dir + "/own.json", folder: dir + "/gt")
        var annotations = demo.annotations
        annotations[perfect] = try XCTUnwrap(COCOPanoptic.load(dir + "/own.json").annotations.first)
        for (i, a) in demo.annotations.enumerated() where i != perfect {
            try FileManager.default.copyItem(atPath: demo.segmentsPath(at: i), toPath: dir + "/gt/" + a.fileName)
        }
        let expected = try PanopticQuality.evaluate(groundTruth: COCOPanoptic(annotations: annotations, categories: demo.categories),
                                                    groundTruthFolder: dir + "/gt", prediction: COCOPanoptic.load(dir + "/pred.json"),
                                                    predictionFolder: dir + "/pred", threads: 1)
        XCTAssertEqual(got.pq, expected.all.pq, accuracy: 1e-12)
        XCTAssertEqual(got.sq, expected.all.sq, accuracy: 1e-12)
        XCTAssertEqual(got.rq, expected.all.rq, accuracy: 1e-12)
        XCTAssertGreaterThan(got.pq, 0)
        XCTAssertLessThan(got.pq, 1)

        // Every image's ground truth the model's own segmentation: PQ = SQ = RQ = 1.
        let all = try Validation.panopticQuality(bundle: bundle, dataset: ExtendedDataset(base: demo, extra: own, replaced: true),
                                                 isThing: demo.isThing)
        XCTAssertEqual(all.pq, 1, accuracy: 1e-12)
        XCTAssertEqual(all.sq, 1, accuracy: 1e-12)
        XCTAssertEqual(all.rq, 1, accuracy: 1e-12)
    }

    /// The VOC class PNGs (class + 1, 0 background = void here, as no mask covers it) against
    /// the detector's semantic labels, counted by SemanticConfusion.
    func testMeanIoU_EqualsTheConfusionOfTheClassPNGs() throws {
        let summary = try makeSegmentationDemo(images: 3, minSide: 48, maxSide: 64, seed: 0)
        let kit = VOCDevkit(root: summary.devkit)
        let data = try VOCFolderDataset(devkit: kit, imageSet: "trainval", classes: try ClassList.load(summary.classesFile),
                                        includeDifficult: true, imageSets: .segmentation, masks: true)
        let bundle = model(DemoData.classNames, things: [0, 1, 2])
        var calls: [[Int]] = []
        let got = try Validation.meanIoU(bundle: bundle, dataset: data, classCount: 3, progress: { calls.append([$0, $1]) })
        XCTAssertEqual(calls, [[1, 3], [2, 3], [3, 3]])
        let shards = try (0..<2).map {
            try Validation.confusionRecords(bundle: bundle, dataset: data, classCount: 3, shard: Validation.Shard(rank: $0, processes: 2),
                                            progress: { _, _ in })
        }
        XCTAssertEqual(try Validation.meanIoU(records: shards, classCount: 3), got)

        let detector = Detector(bundle: bundle)
        var confusion = SemanticConfusion(classCount: 3)
        var predictions: [[Int]] = []
        for (i, id) in data.ids.enumerated() {
            let classes = try ImageIO.loadIndexed(kit.segmentationClassPath(id))
            let truth = classes.indices.map { $0 == 0 ? UInt8(255) : $0 - 1 }
            XCTAssertTrue(truth.contains(255) && truth.contains { $0 < 3 })
            let predicted = try detector.semanticLabels(ImageIO.load(data.imagePath(at: i)))
            predictions.append(predicted)
            try confusion.add(groundTruth: truth, prediction: predicted.map { UInt8($0) }, width: classes.width, image: id)
        }
        XCTAssertEqual(got, confusion.result.meanIoU, accuracy: 1e-12)
        XCTAssertEqual(SemanticConfusion(classCount: 3, counts: confusion.counts, imageCount: 3), confusion)
        XCTAssertNil(SemanticConfusion(classCount: 2, counts: [1, 2, 3], imageCount: 1))
        XCTAssertNil(SemanticConfusion(classCount: 1, counts: [-1], imageCount: 1))
        XCTAssertGreaterThan(got, 0)
        XCTAssertLessThan(got, 1)

        // Ground truth = the predicted labels (a mask per class present): mIoU 1.
        let own = predictions.map { p in Set(p).sorted().map { c in (label: c, mask: p.map { $0 == c }) } }
        XCTAssertEqual(try Validation.meanIoU(bundle: bundle, dataset: ExtendedDataset(base: data, extra: own, replaced: true), classCount: 3),
                       1, accuracy: 1e-12)
    }

    /// A process that fails still takes part in the gather; then every process throws: the
    /// failed one its own error, the others naming its rank and message.
    func testGathered_AFailedProcessFailsEveryProcess() throws {
        struct Boom: Error {}
        let failedRank: ([Double]) -> [[Double]] = { [$0, [1] + "bad sample".utf8.map(Double.init), [0, 9]] }
        XCTAssertThrowsError(try Validation.gathered(gather: failedRank) { [5] }) {
            XCTAssertEqual("\($0)", "process 1 failed: bad sample")
        }
        XCTAssertThrowsError(try Validation.gathered(gather: { [$0, [0, 7]] }) { throw Boom() }) { XCTAssertTrue($0 is Boom) }
        var sent: [Double] = []
        XCTAssertEqual(try Validation.gathered(gather: { sent = $0; return [$0, [0, 7, 8]] }) { [5, 6] }, [[5, 6], [7, 8]])
        XCTAssertEqual(sent, [0, 5, 6])
    }

    /// A box model, thing flags of the wrong count and samples without masks are errors.
    func testBadInput_IsAClearError() throws {
        let summary = try makeSegmentationDemo(images: 2, minSide: 48, maxSide: 48, seed: 3)
        let kit = VOCDevkit(root: summary.devkit)
        let classes = try ClassList.load(summary.classesFile)
        let data = try VOCFolderDataset(devkit: kit, imageSet: "trainval", classes: classes, imageSets: .segmentation, masks: true)
        let boxes = ModelBundle.fresh(config: TinyConfig.detr(queries: 4), classNames: DemoData.classNames, inputSize: 48, seed: 1)
        for (metric, run) in [("mask AP", { _ = try Validation.maskAP(bundle: boxes, dataset: data) }),
                              ("panoptic quality", { _ = try Validation.panopticQuality(bundle: boxes, dataset: data, isThing: [true, true, true]) }),
                              ("mIoU", { _ = try Validation.meanIoU(bundle: boxes, dataset: data, classCount: 3) })] as [(String, () throws -> Void)] {
            XCTAssertThrowsError(try run()) {
                XCTAssertTrue("\($0)".hasPrefix(metric) && "\($0)".contains("detr model predicts boxes only"), "\($0)")
            }
        }
        let masks = model(DemoData.classNames, things: [0, 1, 2])
        XCTAssertThrowsError(try Validation.panopticQuality(bundle: masks, dataset: data, isThing: [true])) {
            XCTAssertTrue("\($0)".contains("1 thing flags for a model of 3 classes"), "\($0)")
        }
        let plain = try VOCFolderDataset(devkit: kit, imageSet: "trainval", classes: classes, imageSets: .segmentation)
        XCTAssertThrowsError(try Validation.meanIoU(bundle: masks, dataset: plain, classCount: 3)) {
            XCTAssertTrue("\($0)".contains(plain.imagePath(at: 0)) && "\($0)".contains("no masks"), "\($0)")
        }
    }
}

/// A data set's samples with objects added to their targets (masks at the image size, not
/// crowd), after their own objects where `replacing` (or, `replaced`, every image) drops them.
struct ExtendedDataset: DetectionDataset {
    let base: any DetectionDataset
    let extra: [[(label: Int, mask: [Bool])]]
    let replacing: Set<Int>

    init(base: any DetectionDataset, extra: [[(label: Int, mask: [Bool])]], replacing: Set<Int> = [], replaced: Bool = false) {
        self.base = base
        self.extra = extra
        self.replacing = replaced ? Set(0..<base.count) : replacing
    }

    var count: Int { base.count }
    func imagePath(at index: Int) -> String { base.imagePath(at: index) }

    func sample(at index: Int) throws -> Sample {
        var s = try base.sample(at: index)
        var t = replacing.contains(index) ? s.target.selecting([]) : s.target
        let old = t.masks ?? MaskStack(count: 0, height: s.image.height, width: s.image.width)
        var values = old.values
        for (label, mask) in extra[index] {
            values += mask.map { $0 ? 1 : 0 }
            t.boxes.append(Box(0, 0, 1, 1))
            t.labels.append(label)
            t.areas.append(Float(mask.filter { $0 }.count))
            t.isCrowd.append(false)
        }
        t.masks = MaskStack(count: old.count + extra[index].count, height: old.height, width: old.width, values: values)
        s.target = t
        return s
    }
}
