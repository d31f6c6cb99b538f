import Datasets
import Foundation
import TestSupport
import XCTest

/// End-to-end tests of the built tools (they work on temporary devkits, never on ../shared).
final class VOCAnnotationToolTests: XCTestCase {
    func linkDevkit(_ shared: String, into dir: String, name: String = "VOCdevkit") throws -> String {
        let root = dir + "/" + name
        try FileManager.default.createDirectory(atPath: root + "/VOC2007", withIntermediateDirectories: true)
        for sub in ["Annotations", "JPEGImages"] {
            try FileManager.default.createSymbolicLink(atPath: root + "/VOC2007/" + sub, withDestinationPath: shared + "/VOCdevkit/VOC2007/" + sub)
        }
        return root
    }

    func testRaccoon_SplitAndLines() throws {
        let shared = try TestPaths.sharedVOC("raccoon")
        let dir = try makeTemporaryDirectory("detrkit-tool")
        let kit = try linkDevkit(shared, into: dir)
        let r = try ToolRunner.run("voc-annotation", [kit, "--classes", shared + "/classes.txt", "--check"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("train and val size 180"), r.stdout)
        XCTAssertTrue(r.stdout.contains("| raccoon |"), r.stdout)
        XCTAssertTrue(r.stdout.contains("Check: 0 suspicious box(es), 0 image problem(s)."), r.stdout)
        let sets = kit + "/VOC2007/ImageSets/Main/"
        func ids(_ name: String) throws -> [String] { try String(contentsOfFile: sets + name + ".txt", encoding: .utf8).split(separator: "\n").map(String.init) }
        XCTAssertEqual(try ids("trainval").count, 180)
        XCTAssertEqual(try ids("train").count, 162)
        XCTAssertEqual(try ids("val").count, 18)
        XCTAssertEqual(try ids("test").count, 20)
        let train = try AnnotationLines.load(dir + "/2007_train.txt")
        let val = try AnnotationLines.load(dir + "/2007_val.txt")
        XCTAssertEqual(train.map { URL(fileURLWithPath: $0.imagePath).deletingPathExtension().lastPathComponent }, try ids("train"))
        XCTAssertEqual(val.count, 18)
        // Every box equals its XML box.
        for line in train + val {
            let id = URL(fileURLWithPath: line.imagePath).deletingPathExtension().lastPathComponent
            let ann = try VOCAnnotation.load(shared + "/VOCdevkit/VOC2007/Annotations/\(id).xml")
            XCTAssertEqual(line.boxes, ann.objects.map { LabeledBox(box: $0.box, classId: 0) }, id)
            XCTAssertTrue(FileManager.default.fileExists(atPath: line.imagePath))
        }
        // The same seed gives the same files; mode 2 alone rewrites identical lines.
        let before = try String(contentsOfFile: dir + "/2007_train.txt", encoding: .utf8)
        let r2 = try ToolRunner.run("voc-annotation", [kit, "--mode", "2", "--classes", shared + "/classes.txt"], in: dir)
        XCTAssertEqual(r2.status, 0, r2.stderr)
        XCTAssertEqual(try String(contentsOfFile: dir + "/2007_train.txt", encoding: .utf8), before)
        // Another seed gives another split of the same sizes.
        let r3 = try ToolRunner.run("voc-annotation", [kit, "--mode", "1", "--seed", "5"], in: dir)
        XCTAssertEqual(r3.status, 0, r3.stderr)
        XCTAssertNotEqual(try ids("train"), train.map { URL(fileURLWithPath: $0.imagePath).deletingPathExtension().lastPathComponent })
        XCTAssertEqual(try ids("train").count, 162)
    }

    func testErrors_AreOneClearLine() throws {
        let dir = try makeTemporaryDirectory("detrkit-tool")
        let missing = try ToolRunner.run("voc-annotation", [dir + "/nope"], in: dir)
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains(dir + "/nope/VOC2007"), missing.stderr)

        let badMode = try ToolRunner.run("voc-annotation", [dir, "--mode", "3"], in: dir)
        XCTAssertNotEqual(badMode.status, 0)
        XCTAssertTrue(badMode.stderr.contains("--mode"), badMode.stderr)

        let demo = try ToolRunner.run("demo-data", ["--output", dir + "/d", "--images", "8"], in: dir)
        XCTAssertEqual(demo.status, 0, demo.stderr)
        // Mode 2 before any split names the missing image set.
        let noSets = try ToolRunner.run("voc-annotation", [dir + "/d/VOCdevkit", "--mode", "2", "--classes", dir + "/d/classes.txt"], in: dir)
        XCTAssertNotEqual(noSets.status, 0)
        XCTAssertTrue(noSets.stderr.contains("ImageSets/Main/train.txt"), noSets.stderr)

        // A devkit whose classes file matches nothing: an error, and no lines are written.
        try "cat\ndog\n".write(toFile: dir + "/wrong.txt", atomically: true, encoding: .utf8)
        let wrong = try ToolRunner.run("voc-annotation", [dir + "/d/VOCdevkit", "--classes", dir + "/wrong.txt"], in: dir)
        XCTAssertNotEqual(wrong.status, 0)
        XCTAssertTrue(wrong.stderr.contains("no objects"), wrong.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/2007_train.txt"))

        // A devkit path with a space cannot be written in the lines format.
        let spaced = dir + "/my data"
        try FileManager.default.createDirectory(atPath: spaced, withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: dir + "/d/VOCdevkit", toPath: spaced + "/VOCdevkit")
        let sp = try ToolRunner.run("voc-annotation", [spaced + "/VOCdevkit", "--classes", dir + "/d/classes.txt"], in: dir)
        XCTAssertNotEqual(sp.status, 0)
        XCTAssertTrue(sp.stderr.contains("whitespace"), sp.stderr)
    }

    func testMissingImagesAndUnknownClassesAreReported() throws {
        let dir = try makeTemporaryDirectory("detrkit-tool")
        XCTAssertEqual(try ToolRunner.run("demo-data", ["--output", dir + "/d", "--images", "12", "--seed", "3"], in: dir).status, 0)
        let kit = dir + "/d/VOCdevkit/VOC2007"
        try FileManager.default.removeItem(atPath: kit + "/JPEGImages/000002.jpg")
        try FileManager.default.copyItem(atPath: kit + "/JPEGImages/000001.jpg", toPath: kit + "/JPEGImages/extra.jpg")
        try "circle\nsquare\n".write(toFile: dir + "/two.txt", atomically: true, encoding: .utf8)
        let r = try ToolRunner.run("voc-annotation", [dir + "/d/VOCdevkit", "--classes", dir + "/two.txt", "--output-dir", dir + "/out"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("1 annotation(s) without an image") && r.stderr.contains("000002"), r.stderr)
        XCTAssertTrue(r.stderr.contains("1 image(s) without an annotation") && r.stderr.contains("extra"), r.stderr)
        XCTAssertTrue(r.stdout.contains("classes not in") && r.stdout.contains("triangle"), r.stdout)
        let lines = try AnnotationLines.load(dir + "/out/2007_train.txt") + AnnotationLines.load(dir + "/out/2007_val.txt")
        XCTAssertEqual(lines.count, 9)  // train + val = trainval = int(11 usable ids * 0.9)
        XCTAssertFalse(lines.contains { $0.imagePath.hasSuffix("000002.jpg") })
        XCTAssertTrue(lines.allSatisfy { $0.boxes.allSatisfy { $0.classId < 2 } })
    }

    func testHelp() throws {
        let r = try ToolRunner.run("voc-annotation", ["--help"], in: NSTemporaryDirectory())
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stdout.contains("--trainval-percent"))
        XCTAssertTrue(r.stdout.contains("--seed"))
    }
}
