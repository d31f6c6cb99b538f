import Datasets
import Eval
import Foundation
import Model
import NN
import Pipeline
import Tensor
import TestSupport
import XCTest

/// `predict` end to end: a tiny random-init checkpoint on small demo images; what the tool
/// writes is checked against the library run on the same weights (inference is deterministic)
/// and against properties of the images.
final class PredictToolTests: XCTestCase {
    static let classNames = ["circle", "square", "triangle"]

    /// A small DETR (ResNet-18, d_model 32, 8 queries) reading 96-pixel inputs. The mask
    /// head's GroupNorm(8) over d_model/16 channels needs d_model 128 (and d_model + heads
    /// divisible by 8).
    static func tinyConfig(segmentation: Bool = false) -> DETRConfig {
        var c = TinyConfig.detr(queries: 8, decoderLayers: 1, classes: classNames.count)
        if segmentation {
            c.dModel = 128
            c.heads = 8
        }
        c.maskHead = segmentation
        return c
    }

    func makeCheckpoint(in dir: String, segmentation: Bool = false, seed: UInt64 = 11) throws -> String {
        let path = dir + (segmentation ? "/ck-segm" : "/ck")
        try ModelBundle.fresh(config: Self.tinyConfig(segmentation: segmentation), classNames: Self.classNames,
                              inputSize: 96, seed: seed).save(to: path)
        return path
    }

    /// A deterministic generator for the demo images.
    struct LCG: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state ^ (state >> 29)
        }
    }

    /// A demo image `width` wide and `width * 3 / 4` high.
    func demoImage(width: Int, seed: UInt64) -> RGBImage {
        var options = DemoData.Options()
        options.minSide = width
        options.maxSide = width
        var rng = LCG(state: seed)
        return DemoData.makeImage(id: "x", options: options, using: &rng).0
    }

    func writeImage(_ image: RGBImage, _ path: String) throws {
        try FileIO.writeAtomically(path, bytes: path.hasSuffix(".png") ? try ImageIO.encodePNG(image) : try ImageIO.encodeJPEG(image))
    }

    func readJSON(_ path: String) throws -> [[String: Any]] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [[String: Any]])
    }

    func assertClose(_ a: [Float], _ b: [Float], accuracy: Float, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, accuracy, "\(what): largest difference \(worst)", file: file, line: line)
    }

    /// A folder of two images (PNG and JPEG, 128x96 so that the 96-pixel input needs no
    /// resizing), a text file and a corrupt JPEG: drawn PNGs, detections.json, --raw, --crop
    /// and --count agree with the library on the same weights.
    func testFolder_OutputsAgreeWithLibrary() throws {
        let dir = try makeTemporaryDirectory("detrkit-tool")
        let ck = try makeCheckpoint(in: dir)
        let images = dir + "/images"
        try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
        try writeImage(demoImage(width: 128, seed: 1), images + "/a.png")
        try writeImage(demoImage(width: 128, seed: 2), images + "/b.jpg")
        try FileIO.writeAtomically(images + "/c_broken.jpg", bytes: [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 4, 5, 6, 7, 8])
        try FileIO.writeAtomically(images + "/notes.txt", text: "not an image\n")
        let names = ["a.png", "b.jpg"]
        // The images as the tool reads them (JPEG is lossy: decode the file).
        let decoded = try names.map { try ImageIO.load(images + "/" + $0) }

        // A confidence that keeps some detections of the random model and drops others.
        let detector = Detector(bundle: try ModelBundle.load(ck))
        let all = try decoded.map { try detector.detect($0, confidence: 0) }
        let scores = all.flatMap { $0.detections.map(\.score) }.sorted()
        XCTAssertEqual(scores.count, 16)
        let confidence = scores[scores.count / 2 - 1]
        let expected = try decoded.map { try detector.detect($0, confidence: confidence) }
        let kept = expected.map(\.detections.count).reduce(0, +)
        XCTAssertTrue(kept > 0 && kept < 16, "\(kept)")

        let out = dir + "/out", raw = dir + "/raw.safetensors"
        let r = try ToolRunner.run("predict", [images, "--weights", ck, "--out", out, "--confidence", "\(confidence)", "--raw", raw, "--crop", "--count"])
        // The corrupt JPEG is reported with its path; the run finishes and then fails.
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains(images + "/c_broken.jpg"), r.stderr)
        XCTAssertTrue(r.stderr.contains("1 of 3"), r.stderr)
        XCTAssertTrue(r.stdout.contains("skipping " + images + "/notes.txt"), r.stdout)
        XCTAssertTrue(r.stdout.split(separator: "\n").last?.contains(out) ?? false, r.stdout)

        // One drawn PNG per image, at the image's size, with something drawn on it.
        for (k, name) in names.enumerated() {
            let drawn = try ImageIO.load(out + "/" + (name as NSString).deletingPathExtension + ".png")
            XCTAssertEqual(drawn.width, decoded[k].width)
            XCTAssertEqual(drawn.height, decoded[k].height)
            let original = decoded[k]
            var changed = 0
            for y in 0..<drawn.height {
                for x in 0..<drawn.width where !(drawn[x, y] == original[x, y]) { changed += 1 }
            }
            // Boxes and labels when there are detections; otherwise the image as it was.
            if expected[k].detections.isEmpty {
                XCTAssertEqual(changed, 0, name)
            } else {
                XCTAssertGreaterThan(changed, 100, name)
            }
        }

        // detections.json: the library's detections, per image, in COCO xywh.
        let entries = try readJSON(out + "/detections.json")
        XCTAssertEqual(entries.count, kept)
        for (k, name) in names.enumerated() {
            let mine = entries.filter { ($0["image_id"] as? Int) == k }
            let dets = expected[k].detections
            XCTAssertEqual(mine.count, dets.count, name)
            for (e, d) in zip(mine, dets) {
                XCTAssertEqual(e["file_name"] as? String, name)
                XCTAssertEqual(e["category_id"] as? Int, d.label)
                XCTAssertEqual(e["category_name"] as? String, Self.classNames[d.label])
                let score = try XCTUnwrap(e["score"] as? Double)
                XCTAssertEqual(score, Double(d.score), accuracy: 1e-5)
                XCTAssertGreaterThan(score, Double(confidence))
                let b = try XCTUnwrap(e["bbox"] as? [Double])
                XCTAssertEqual(b.count, 4)
                assertClose(b.map(Float.init), [d.box.x0, d.box.y0, d.box.x1 - d.box.x0, d.box.y1 - d.box.y0], accuracy: 1e-3, "bbox")
                XCTAssertTrue(b[0] >= 0 && b[1] >= 0 && b[2] >= 0 && b[3] >= 0, "\(b)")
                XCTAssertLessThanOrEqual(b[0] + b[2], Double(decoded[k].width) + 1e-3)
                XCTAssertLessThanOrEqual(b[1] + b[3], Double(decoded[k].height) + 1e-3)
            }
        }

        // --raw: the network's input and raw outputs, keyed by stem.
        let tensors = try SafeTensors.read(raw).tensors
        var keys: Set<String> = []
        for s in ["a", "b"] { for t in ["input", "mask", "pred_logits", "pred_boxes"] { keys.insert("\(s)/\(t)") } }
        XCTAssertEqual(Set(tensors.keys), keys)
        let mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225]
        for (k, s) in ["a", "b"].enumerated() {
            let image = decoded[k]
            let input = try XCTUnwrap(tensors["\(s)/input"])
            // Shorter side already 96: not resized; the input is the image, normalised (ImageNet).
            XCTAssertEqual(input.shape, [1, 3, image.height, image.width])
            let hw = image.width * image.height
            var byHand = [Float](repeating: 0, count: 3 * hw)
            for c in 0..<3 { for i in 0..<hw { byHand[c * hw + i] = (Float(image.pixels[3 * i + c]) / 255 - mean[c]) / std[c] } }
            assertClose(input.scalars, byHand, accuracy: 1e-5, "\(s)/input by hand")
            let prepared = detector.prepare(image)
            XCTAssertEqual(input.scalars, prepared.input.scalars, "\(s)/input")
            let mask = try XCTUnwrap(tensors["\(s)/mask"])
            XCTAssertEqual(mask.shape, [1, image.height, image.width])
            XCTAssertTrue(mask.scalars.allSatisfy { $0 == 0 })
            let output = detector.run(prepared)
            XCTAssertEqual(tensors["\(s)/pred_logits"]?.shape, [1, 8, 4])
            XCTAssertEqual(tensors["\(s)/pred_boxes"]?.shape, [1, 8, 4])
            assertClose(tensors["\(s)/pred_logits"]?.scalars ?? [], output.logits.scalars, accuracy: 1e-5, "\(s)/pred_logits")
            assertClose(tensors["\(s)/pred_boxes"]?.scalars ?? [], output.boxes.scalars, accuracy: 1e-5, "\(s)/pred_boxes")
        }

        // --crop: one PNG per detection, the pixels its box covers.
        let crops = try FileManager.default.contentsOfDirectory(atPath: out + "/crops").sorted()
        XCTAssertEqual(crops.count, kept, "\(crops)")
        for (k, s) in ["a", "b"].enumerated() {
            for (j, d) in expected[k].detections.enumerated() {
                let file = out + "/crops/\(s)_\(j)_\(Self.classNames[d.label]).png"
                let crop = try ImageIO.load(file)
                let w = Int(d.box.x1.rounded(.up)) - Int(d.box.x0.rounded(.down))
                let h = Int(d.box.y1.rounded(.up)) - Int(d.box.y0.rounded(.down))
                XCTAssertEqual(crop.width, max(1, w), file)
                XCTAssertEqual(crop.height, max(1, h), file)
                // Its top-left pixel is the image's pixel at the box's top-left corner.
                let x0 = Int(d.box.x0.rounded(.down)), y0 = Int(d.box.y0.rounded(.down))
                XCTAssertTrue(crop[0, 0] == decoded[k][x0, y0], file)
            }
        }

        // --count: per image and in total, the library's detections per class.
        var total = [0, 0, 0]
        for (k, name) in names.enumerated() {
            var counts = [0, 0, 0]
            for d in expected[k].detections { counts[d.label] += 1; total[d.label] += 1 }
            let line = r.stdout.split(separator: "\n").first { $0.hasPrefix(name + ":") }.map(String.init) ?? ""
            XCTAssertEqual(parseCounts(line), counts, line)
        }
        let totalLine = r.stdout.split(separator: "\n").first { $0.hasPrefix("total:") }.map(String.init) ?? ""
        XCTAssertEqual(parseCounts(totalLine), total, totalLine)
    }

    /// "name: circle 2, triangle 1" -> [2, 0, 1].
    func parseCounts(_ line: String) -> [Int] {
        var counts = [0, 0, 0]
        guard let colon = line.firstIndex(of: ":") else { return [-1] }
        for part in line[line.index(after: colon)...].split(separator: ",") {
            let words = part.split(separator: " ")
            guard words.count == 2, let i = Self.classNames.firstIndex(of: String(words[0])), let n = Int(words[1]) else { continue }
            counts[i] = n
        }
        return counts
    }

    /// One image path; an image with the shorter side 90 is resized to 96 (the 128x96 images
    /// above are not); --fps times without writing.
    func testSingleImage_ResizedInputAndFPS() throws {
        let dir = try makeTemporaryDirectory("detrkit-tool")
        let ck = try makeCheckpoint(in: dir)
        let path = dir + "/small.png"
        let image = demoImage(width: 120, seed: 3)
        XCTAssertEqual(image.height, 90)
        try writeImage(image, path)
        let out = dir + "/out", raw = dir + "/raw.safetensors"
        let r = try ToolRunner.run("predict", [path, "--weights", ck, "--out", out, "--confidence", "0", "--raw", raw])
        XCTAssertEqual(r.status, 0, r.stderr)
        let drawn = try ImageIO.load(out + "/small.png")
        XCTAssertEqual(drawn.width, 120)
        XCTAssertEqual(drawn.height, 90)
        XCTAssertEqual(try readJSON(out + "/detections.json").count, 8)  // every query above 0
        let input = try XCTUnwrap(SafeTensors.read(raw).tensors["small/input"])
        XCTAssertEqual(input.shape, [1, 3, 96, 128])

        let out2 = dir + "/fps-out"
        let f = try ToolRunner.run("predict", [path, "--weights", ck, "--out", out2, "--fps", "2"])
        XCTAssertEqual(f.status, 0, f.stderr)
        XCTAssertTrue(f.stdout.contains("2 runs") && f.stdout.contains("images/s"), f.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out2))
    }

    /// With the default geometry (shorter side 800, longer at most 1333), an 800x1000 image is
    /// given to the network as it is.
    func testFullSizeImage_NotResized() throws {
        let dir = try makeTemporaryDirectory("detrkit-tool")
        let ck = dir + "/ck800"
        try ModelBundle.fresh(config: Self.tinyConfig(), classNames: Self.classNames, seed: 12).save(to: ck)
        let w = 1000, h = 800
        var px = [UInt8](repeating: 0, count: w * h * 3)
        for i in px.indices { px[i] = UInt8(truncatingIfNeeded: (i / 3) % w * 7 + (i / 3) / w * 3 + (i % 3) * 50) }
        let image = RGBImage(width: w, height: h, pixels: px)
        try writeImage(image, dir + "/big.png")
        let raw = dir + "/raw.safetensors"
        let r = try ToolRunner.run("predict", [dir + "/big.png", "--weights", ck, "--out", dir + "/out", "--confidence", "1", "--raw", raw])
        XCTAssertEqual(r.status, 0, r.stderr)
        let input = try XCTUnwrap(SafeTensors.read(raw).tensors["big/input"])
        XCTAssertEqual(input.shape, [1, 3, h, w])
        let mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225]
        let values = input.scalars
        var worst: Float = 0
        for c in 0..<3 {
            for i in stride(from: 0, to: w * h, by: 7) {
                worst = max(worst, abs(values[c * w * h + i] - (Float(px[3 * i + c]) / 255 - mean[c]) / std[c]))
            }
        }
        XCTAssertLessThan(worst, 1e-5)
        XCTAssertEqual(try readJSON(dir + "/out/detections.json").count, 0)  // no score is above 1
    }

    /// One-line errors, non-zero exit, naming the file.
    func testErrors() throws {
        let dir = try makeTemporaryDirectory("detrkit-tool")
        let ck = try makeCheckpoint(in: dir)
        let images = dir + "/images"
        try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
        try writeImage(demoImage(width: 64, seed: 4), images + "/one.png")
        let empty = dir + "/empty"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        try FileIO.writeAtomically(empty + "/readme.txt", text: "hello\n")
        try FileIO.writeAtomically(dir + "/five.txt", text: "a\nb\nc\nd\ne\n")
        let state = try ModelBundle.load(ck).network.stateDict()
        try SafeTensors.write(state, to: dir + "/bare.safetensors")
        try TorchSave.legacy(state, wrapped: true).write(to: URL(fileURLWithPath: dir + "/official.pth"))
        let refused = TestPaths.repositoryRoot + "/Tests/NNTests/Fixtures/pth/model_os_system.pth"

        let cases: [(args: [String], message: String)] = [
            ([dir + "/missing", "--weights", ck], dir + "/missing"),
            ([empty, "--weights", ck], empty + ": no images"),
            ([images, "--weights", dir + "/no-weights"], dir + "/no-weights"),
            ([images, "--weights", ck, "--classes", dir + "/five.txt"], "3 classes but 5"),
            ([images, "--weights", dir + "/bare.safetensors", "--num-classes", "5", "--heads", "4"], "3 classes but 5"),
            ([images, "--weights", dir + "/bare.safetensors"], "--classes"),
            ([images, "--weights", refused, "--num-classes", "3"], refused + ": cannot read as a PyTorch checkpoint: entry 'w'"),
        ]
        for c in cases {
            let r = try ToolRunner.run("predict", c.args + ["--out", dir + "/out"])
            XCTAssertEqual(r.status, 1, "\(c.args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(c.message), "\(c.args): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out"))

        // A bare file with its class names runs.
        try FileIO.writeAtomically(dir + "/three.txt", text: Self.classNames.joined(separator: "\n") + "\n")
        let ok = try ToolRunner.run("predict", [images, "--weights", dir + "/bare.safetensors", "--classes", dir + "/three.txt", "--heads", "4",
                          "--input-size", "64", "--out", dir + "/out", "--confidence", "0"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        let names = try readJSON(dir + "/out/detections.json").compactMap { $0["category_name"] as? String }
        XCTAssertEqual(names.count, 8)
        XCTAssertTrue(names.allSatisfy { Self.classNames.contains($0) }, "\(names)")

        // The same weights as a PyTorch checkpoint ({"model": ..., "epoch": 3}): the same detections.
        let pth = try ToolRunner.run("predict", [images, "--weights", dir + "/official.pth", "--classes", dir + "/three.txt", "--heads", "4",
                           "--input-size", "64", "--out", dir + "/out-pth", "--confidence", "0"])
        XCTAssertEqual(pth.status, 0, pth.stderr)
        XCTAssertEqual(try String(contentsOfFile: dir + "/out-pth/detections.json", encoding: .utf8),
                       try String(contentsOfFile: dir + "/out/detections.json", encoding: .utf8))
    }

    /// A model with a segmentation head: masks are tinted, and --raw holds pred_masks.
    func testSegmentationHead_DrawsMasks() throws {
        let dir = try makeTemporaryDirectory("detrkit-tool")
        let ck = try makeCheckpoint(in: dir, segmentation: true)
        let path = dir + "/seg.png"
        let image = demoImage(width: 128, seed: 5)
        try writeImage(image, path)
        let out = dir + "/out", raw = dir + "/raw.safetensors"
        let r = try ToolRunner.run("predict", [path, "--weights", ck, "--out", out, "--confidence", "0", "--raw", raw])
        XCTAssertEqual(r.status, 0, r.stderr)
        let tensors = try SafeTensors.read(raw).tensors
        let pm = try XCTUnwrap(tensors["seg/pred_masks"])
        XCTAssertEqual(Array(pm.shape.prefix(2)), [1, 8])

        let result = try Detector(bundle: try ModelBundle.load(ck)).detect(image, confidence: 0)
        let masks = try XCTUnwrap(result.masks)
        let drawn = try ImageIO.load(out + "/seg.png")
        // Pixels in some mask and at least 4 pixels away from every box edge (outlines are
        // 2 pixels wide here): tinted, so different from the original.
        let w = image.width, h = image.height
        var inside = 0, differ = 0
        for y in 0..<h {
            for x in 0..<w where masks.contains(where: { $0[y * w + x] }) {
                let nearEdge = result.detections.contains { d in
                    let fx = Float(x), fy = Float(y)
                    let withinX = fx >= d.box.x0 - 4 && fx <= d.box.x1 + 4, withinY = fy >= d.box.y0 - 4 && fy <= d.box.y1 + 4
                    return (withinY && (abs(fx - d.box.x0) < 4 || abs(fx - d.box.x1) < 4))
                        || (withinX && (abs(fy - d.box.y0) < 4 || abs(fy - d.box.y1) < 4))
                }
                if nearEdge { continue }
                inside += 1
                if !(drawn[x, y] == image[x, y]) { differ += 1 }
            }
        }
        XCTAssertGreaterThan(inside, 50)
        XCTAssertGreaterThanOrEqual(Double(differ), 0.98 * Double(inside), "\(differ) of \(inside) mask pixels tinted")
    }
}
