import Datasets
import Foundation
import Model
import Pipeline
import TestSupport
import XCTest

/// `get-map CHECKPOINT --mode 0..4` (the default subcommand) end to end on a tiny demo
/// VOCdevkit and a tiny random-init checkpoint.
final class GetMapModelToolTests: XCTestCase {
    struct Fixture {
        let dir: String
        let devkit: String
        let checkpoint: String
        let bundle: ModelBundle
        let testIDs: [String]
    }

    /// One demo devkit of 12 small images (half of them in the test split) and one checkpoint of
    /// its classes, shared by the tests (made once; tests that change files work on copies).
    nonisolated(unsafe) static var shared: Fixture?

    override class func tearDown() {
        if let dir = shared?.dir { try? FileManager.default.removeItem(atPath: dir) }
        shared = nil
        super.tearDown()
    }

    func fixture() throws -> Fixture {
        if let f = Self.shared { return f }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("getmap-model-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let demo = try ToolRunner.run("demo-data", ["--output", dir + "/demo", "--images", "12", "--seed", "0", "--min-side", "64", "--max-side", "96"], in: dir)
        XCTAssertEqual(demo.status, 0, demo.stderr)
        let devkit = dir + "/demo/VOCdevkit"
        let split = try ToolRunner.run("voc-annotation", [devkit, "--classes", dir + "/demo/classes.txt", "--mode", "1", "--seed", "0",
                                               "--trainval-percent", "0.5"], in: dir)
        XCTAssertEqual(split.status, 0, split.stderr)
        let bundle = ModelBundle.fresh(config: TinyConfig.detr(queries: 8, decoderLayers: 1, classes: 3), classNames: DemoData.classNames, inputSize: 64, seed: 7)
        try bundle.save(to: dir + "/ck")
        let ids = try VOCDevkit(root: devkit).readImageSet("test")
        XCTAssertEqual(ids.count, 6)
        let f = Fixture(dir: dir, devkit: devkit, checkpoint: dir + "/ck", bundle: bundle, testIDs: ids)
        Self.shared = f
        return f
    }

    func read(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    /// The reference's detection line: `class str(float32 score)[:6] int(l) int(t) int(r) int(b)`.
    func referenceLine(_ name: String, _ d: Detection) -> String {
        let score = String(d.score.description.prefix(6))
        return "\(name) \(score) \(Int(d.box.x0)) \(Int(d.box.y0)) \(Int(d.box.x1)) \(Int(d.box.y1))"
    }

    func lines(_ path: String) throws -> [String] {
        try read(path).split(separator: "\n").map(String.init)
    }

    func testModes_OnDemoDevkit() throws {
        let f = try fixture()
        let work = try makeTemporaryDirectory("getmap-work")
        let out = work + "/map_out"
        let common = ["--devkit", f.devkit, "--out", out]
        let kit = VOCDevkit(root: f.devkit)

        // Mode 2: ground truth equals the XML objects, difficult ones flagged; a file of an id
        // outside the split (left by another run) is removed.
        try FileManager.default.createDirectory(atPath: out + "/ground-truth", withIntermediateDirectories: true)
        try "circle 1 1 2 2\n".write(toFile: out + "/ground-truth/stale.txt", atomically: true, encoding: .utf8)
        let m2 = try ToolRunner.run("get-map", [f.checkpoint, "--mode", "2"] + common, in: work)
        XCTAssertEqual(m2.status, 0, m2.stderr)
        var difficult = 0
        for id in f.testIDs {
            let ann = try VOCAnnotation.load(kit.annotationPath(id))
            let expected = ann.objects.map { o in
                "\(o.name) \(o.box.xmin) \(o.box.ymin) \(o.box.xmax) \(o.box.ymax)" + (o.difficult ? " difficult" : "")
            }
            difficult += ann.objects.filter(\.difficult).count
            XCTAssertEqual(try lines(out + "/ground-truth/\(id).txt"), expected, id)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out + "/ground-truth").sorted(),
                       f.testIDs.map { $0 + ".txt" }.sorted())
        XCTAssertGreaterThan(difficult, 0, "the demo split should hold a difficult object (seed 0)")

        // Mode 1: one file per test image, equal to the Detector's detections at 0.001 in the
        // reference's format (`str(score)[:6]`, `int()` of each coordinate).
        let m1 = try ToolRunner.run("get-map", [f.checkpoint, "--mode", "1"] + common, in: work)
        XCTAssertEqual(m1.status, 0, m1.stderr)
        let detector = Detector(bundle: f.bundle)
        let images = try kit.imageFiles()
        var lineCount = 0
        for id in f.testIDs {
            let image = try ImageIO.load(kit.imagesDirectory + "/" + images[id]!)
            let dets = try detector.detect(image, confidence: 0.001).detections
            let expected = dets.map { referenceLine(DemoData.classNames[$0.label], $0) }
            let got = try lines(out + "/detection-results/\(id).txt")
            XCTAssertEqual(got, expected, id)
            lineCount += got.count
            for l in got {
                let fields = l.split(separator: " ")
                XCTAssertEqual(fields.count, 6, l)
                XCTAssertLessThanOrEqual(fields[1].count, 6, l)
                XCTAssertTrue(fields[2...].allSatisfy { Int($0) != nil }, l)
            }
        }
        XCTAssertGreaterThan(lineCount, 0)

        // Mode 3: the VOC mAP; the last line is `mAP@0.50 = x.xxx`, the value of results.txt.
        let m3 = try ToolRunner.run("get-map", [f.checkpoint, "--mode", "3", "--no-plots"] + common, in: work)
        XCTAssertEqual(m3.status, 0, m3.stderr)
        XCTAssertNotNil(m3.lastLine.range(of: #"^mAP@0\.50 = [01]\.\d{3}$"#, options: .regularExpression), m3.stdout)
        let results = try lines(out + "/results/results.txt")
        let percent = try XCTUnwrap(results.first { $0.hasPrefix("mAP = ") })
        let fromResults = try XCTUnwrap(Double(percent.dropFirst(6).dropLast()))
        let printed = try XCTUnwrap(Double(m3.lastLine.dropFirst("mAP@0.50 = ".count)))
        XCTAssertEqual(printed, fromResults / 100, accuracy: 0.0006)

        // Mode 0 (the default) in another folder: the same files and the same last line.
        let out0 = work + "/map_out0"
        let m0 = try ToolRunner.run("get-map", [f.checkpoint, "--devkit", f.devkit, "--out", out0, "--no-plots"], in: work)
        XCTAssertEqual(m0.status, 0, m0.stderr)
        XCTAssertEqual(m0.lastLine, m3.lastLine, m0.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out0 + "/results/results.txt"))
        for id in f.testIDs {
            XCTAssertEqual(try read(out0 + "/ground-truth/\(id).txt"), try read(out + "/ground-truth/\(id).txt"))
            XCTAssertEqual(try read(out0 + "/detection-results/\(id).txt"), try read(out + "/detection-results/\(id).txt"))
        }

        // Mode 4: pycocotools' summary.
        let m4 = try ToolRunner.run("get-map", [f.checkpoint, "--mode", "4"] + common, in: work)
        XCTAssertEqual(m4.status, 0, m4.stderr)
        XCTAssertTrue(m4.stdout.contains(" Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = "), m4.stdout)
        XCTAssertTrue(m4.stdout.contains(" Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = "), m4.stdout)
        // Mode 4 with the report, the worst images drawn from the devkit's JPEGImages.
        let analysis = work + "/analysis"
        let r4 = try ToolRunner.run("get-map", [f.checkpoint, "--mode", "4", "--analysis", analysis, "--report",
                                                "--images", f.devkit + "/VOC2007/JPEGImages"] + common, in: work)
        XCTAssertEqual(r4.status, 0, r4.stderr)
        let page = try read(analysis + "/report.html")
        XCTAssertTrue(page.contains("data:image/jpeg;base64,"), "no worst image drawn")
        XCTAssertFalse(page.contains(": not shown ("))

        // Detections = ground truth (score 1): mode 3 gives 1.000, mode 4 an AP of 1.000.
        for id in f.testIDs {
            let asDetections = try lines(out + "/ground-truth/\(id).txt").map { l -> String in
                let p = l.split(separator: " ")
                return "\(p[0]) 1.0 \(p[1]) \(p[2]) \(p[3]) \(p[4])\n"
            }
            try asDetections.joined().write(toFile: out + "/detection-results/\(id).txt", atomically: true, encoding: .utf8)
        }
        let json = work + "/voc.json"
        let perfect3 = try ToolRunner.run("get-map", [f.checkpoint, "--mode", "3", "--no-plots", "--json", json] + common, in: work)
        XCTAssertEqual(perfect3.status, 0, perfect3.stderr)
        XCTAssertEqual(perfect3.lastLine, "mAP@0.50 = 1.000", perfect3.stdout)
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any]
        XCTAssertEqual(report?["mAP"] as? Double, 1.0)
        let perfect4 = try ToolRunner.run("get-map", [f.checkpoint, "--mode", "4"] + common, in: work)
        XCTAssertEqual(perfect4.status, 0, perfect4.stderr)
        XCTAssertTrue(perfect4.stdout.contains(" Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 1.000"), perfect4.stdout)
        XCTAssertTrue(perfect4.stdout.contains(" Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ] = 1.000"), perfect4.stdout)
    }

    /// Objects of a class the checkpoint does not know are left out with a counted warning.
    func testGroundTruth_UnknownClassesCounted() throws {
        let f = try fixture()
        let work = try makeTemporaryDirectory("getmap-work")
        // The same checkpoint with "hexagon" in place of "triangle".
        try FileManager.default.copyItem(atPath: f.checkpoint, toPath: work + "/other")
        var state = try JSONDecoder().decode(CheckpointState.self, from: Data(contentsOf: URL(fileURLWithPath: work + "/other/state.json")))
        state.classNames = ["circle", "square", "hexagon"]
        try state.encoded().write(to: URL(fileURLWithPath: work + "/other/state.json"))
        var triangles = 0
        for id in f.testIDs {
            triangles += try VOCAnnotation.load(VOCDevkit(root: f.devkit).annotationPath(id)).objects.filter { $0.name == "triangle" }.count
        }
        XCTAssertGreaterThan(triangles, 0, "the demo split should hold a triangle (seed 0)")
        let r = try ToolRunner.run("get-map", [work + "/other", "--mode", "2", "--devkit", f.devkit], in: work)
        XCTAssertEqual(r.status, 0, r.stderr)
        for id in f.testIDs {
            XCTAssertFalse(try read(work + "/map_out/ground-truth/\(id).txt").contains("triangle"))
        }
        XCTAssertTrue(r.stderr.contains("left out \(triangles) object(s)") && r.stderr.contains("triangle (\(triangles))"), r.stderr)
    }

    func testErrors_NameTheFile() throws {
        let f = try fixture()
        let work = try makeTemporaryDirectory("getmap-work")
        let noCk = try ToolRunner.run("get-map", [work + "/nothing", "--mode", "1", "--devkit", f.devkit, "--out", work + "/o"], in: work)
        XCTAssertNotEqual(noCk.status, 0)
        XCTAssertTrue(noCk.stderr.contains(work + "/nothing"), noCk.stderr)
        XCTAssertEqual(noCk.stderr.split(separator: "\n").count, 1, noCk.stderr)

        let noKit = try ToolRunner.run("get-map", [f.checkpoint, "--mode", "2", "--devkit", work + "/NoDevkit"], in: work)
        XCTAssertNotEqual(noKit.status, 0)
        XCTAssertTrue(noKit.stderr.contains(work + "/NoDevkit"), noKit.stderr)

        let noSplit = try ToolRunner.run("get-map", [f.checkpoint, "--mode", "2", "--devkit", f.devkit, "--split", "nosuch"], in: work)
        XCTAssertNotEqual(noSplit.status, 0)
        XCTAssertTrue(noSplit.stderr.contains("ImageSets/Main/nosuch.txt"), noSplit.stderr)

        // A copy of the devkit without one annotation and one image.
        let kit = work + "/VOCdevkit"
        try FileManager.default.copyItem(atPath: f.devkit, toPath: kit)
        try FileManager.default.removeItem(atPath: VOCDevkit(root: kit).annotationPath(f.testIDs[0]))
        let noXML = try ToolRunner.run("get-map", [f.checkpoint, "--mode", "2"], in: work)
        XCTAssertNotEqual(noXML.status, 0)
        XCTAssertTrue(noXML.stderr.contains("Annotations/\(f.testIDs[0]).xml"), noXML.stderr)

        let images = try VOCDevkit(root: kit).imageFiles()
        try FileManager.default.removeItem(atPath: kit + "/VOC2007/JPEGImages/" + images[f.testIDs[1]]!)
        let noImage = try ToolRunner.run("get-map", [f.checkpoint, "--mode", "1"], in: work)
        XCTAssertNotEqual(noImage.status, 0)
        XCTAssertTrue(noImage.stderr.contains("JPEGImages/\(f.testIDs[1]).jpg"), noImage.stderr)

        let noFolders = try ToolRunner.run("get-map", ["--mode", "3", "--out", work + "/empty_out"], in: work)
        XCTAssertNotEqual(noFolders.status, 0)
        XCTAssertTrue(noFolders.stderr.contains(work + "/empty_out/ground-truth"), noFolders.stderr)

        let badMode = try ToolRunner.run("get-map", [f.checkpoint, "--mode", "5"], in: work)
        XCTAssertNotEqual(badMode.status, 0)
        XCTAssertTrue(badMode.stderr.contains("--mode"), badMode.stderr)
    }
}
