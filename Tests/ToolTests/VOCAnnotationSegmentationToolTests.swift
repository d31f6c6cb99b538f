import Datasets
import Foundation
import TestSupport
import XCTest

/// `voc-annotation --image-sets segmentation` on `demo-data --segmentation`: the lines come from
/// ImageSets/Segmentation, --check reads every mask pair, and a broken mask is named.
final class VOCAnnotationSegmentationToolTests: XCTestCase {
    func testSegmentationSplit_LinesFromSegmentationListsAndMasksChecked() throws {
        let dir = try makeTemporaryDirectory("detrkit-tool")
        let demo = try ToolRunner.run("demo-data", ["--output", dir + "/d", "--images", "10", "--seed", "2",
                                                    "--min-side", "64", "--max-side", "96", "--segmentation"], in: dir)
        XCTAssertEqual(demo.status, 0, demo.stderr)
        XCTAssertTrue(demo.stdout.contains("Segmentation: 8 train and 2 val images"), demo.stdout)
        let kit = VOCDevkit(root: dir + "/d/VOCdevkit")
        let args = [kit.root, "--mode", "2", "--image-sets", "segmentation", "--classes", dir + "/d/classes.txt",
                    "--output-dir", dir + "/out", "--check"]
        let r = try ToolRunner.run("voc-annotation", args, in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("Check: 0 segmentation problem(s) in 10 mask pair(s)."), r.stdout)
        for set in ["train", "val"] {
            let ids = try kit.readImageSet(set, from: .segmentation)
            let lines = try AnnotationLines.load(dir + "/out/2007_\(set).txt")
            XCTAssertEqual(lines.map { $0.imagePath }, ids.map { kit.imagesDirectory + "/" + $0 + ".jpg" })
        }
        // The default lists are untouched: mode 2 on ImageSets/Main still needs mode 1 first.
        XCTAssertFalse(FileManager.default.fileExists(atPath: kit.imageSetsDirectory))

        // A class mask of the wrong size is reported by --check, naming the file.
        let id = try kit.readImageSet("train", from: .segmentation)[0]
        try ImageIO.saveIndexed(IndexedImage(width: 3, height: 2, indices: [0, 0, 0, 0, 0, 0], palette: IndexedImage.vocPalette),
                                to: kit.segmentationClassPath(id))
        let bad = try ToolRunner.run("voc-annotation", args, in: dir)
        XCTAssertEqual(bad.status, 0, bad.stderr)
        XCTAssertTrue(bad.stdout.contains("Check: 1 segmentation problem(s)"), bad.stdout)
        XCTAssertTrue(bad.stdout.contains(kit.segmentationClassPath(id) + ": mask of 3x2 pixels"), bad.stdout)

        // A missing object mask stops mode 2 with the file's name.
        try FileManager.default.removeItem(atPath: kit.segmentationObjectPath(id))
        let missing = try ToolRunner.run("voc-annotation", args, in: dir)
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains(kit.segmentationObjectPath(id) + ": no such mask"), missing.stderr)

        // Segmentation lists are read, not written: modes 0 and 1 refuse them.
        let mode1 = try ToolRunner.run("voc-annotation", [kit.root, "--mode", "1", "--image-sets", "segmentation"], in: dir)
        XCTAssertNotEqual(mode1.status, 0)
        XCTAssertTrue(mode1.stderr.contains("--mode 2"), mode1.stderr)
    }
}
