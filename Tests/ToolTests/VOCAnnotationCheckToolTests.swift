import Datasets
import Foundation
import TestSupport
import XCTest

/// voc-annotation --check on a devkit with bad images and bad boxes: each is reported once,
/// with its path once; the lines are still written, as the reference writes them.
final class VOCAnnotationCheckToolTests: XCTestCase {
    func testCheck_BadImagesAndBoxesReportedOnce_FilenameIgnored() throws {
        let dir = try makeTemporaryDirectory("check")
        XCTAssertEqual(try ToolRunner.run("demo-data", ["--output", "d", "--images", "8", "--seed", "3"], in: dir).status, 0)
        let kit = dir + "/d/VOCdevkit/VOC2007"
        let truncated = kit + "/JPEGImages/000006.jpg", empty = kit + "/JPEGImages/000007.jpg"
        let jpeg = try FileIO.readBytes(truncated)
        try FileIO.writeAtomically(truncated, bytes: jpeg.prefix(jpeg.count / 2))
        try FileIO.writeAtomically(empty, bytes: [UInt8]())
        // 000004: a <filename> leaving the devkit, an inverted box and a box outside the 393x254 image.
        var xml = try FileIO.readText(kit + "/Annotations/000004.xml")
        xml = xml.replacingOccurrences(of: "<filename>000004.jpg</filename>", with: "<filename>../../../../etc/passwd</filename>")
            .replacingOccurrences(of: "<xmin>131</xmin>", with: "<xmin>231</xmin>")
            .replacingOccurrences(of: "<xmax>331</xmax>", with: "<xmax>500</xmax>")
        try FileIO.writeAtomically(kit + "/Annotations/000004.xml", text: xml)
        // 000005: no <size>; the check reads it from the image.
        let noSize = try FileIO.readText(kit + "/Annotations/000005.xml")
        try FileIO.writeAtomically(kit + "/Annotations/000005.xml",
                                   text: noSize.replacingOccurrences(of: #"<size>[\s\S]*</size>"#, with: "", options: .regularExpression))

        let r = try ToolRunner.run("voc-annotation", ["d/VOCdevkit", "--classes", "d/classes.txt", "--check"], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("Check: 2 suspicious box(es), 2 image problem(s)."), r.stdout)
        XCTAssertTrue(r.stdout.contains("000004: triangle [231,50,206,125] in 393x254: xmax < xmin or ymax < ymin"), r.stdout)
        XCTAssertTrue(r.stdout.contains("000004: square [236,151,500,246] in 393x254: outside the image"), r.stdout)
        for (path, what) in [(truncated, "corrupt JPEG image"), (empty, "unsupported image format")] {
            let line = try XCTUnwrap(r.lines.first { $0.contains(path) }, r.stdout)
            XCTAssertEqual(line.components(separatedBy: path).count, 2, "path not named once: \(line)")
            XCTAssertTrue(line.contains(what), line)
        }
        // The image of 000004 is JPEGImages/000004.jpg, whatever its <filename> says.
        let lines = try AnnotationLines.load(dir + "/2007_train.txt") + AnnotationLines.load(dir + "/2007_val.txt")
        XCTAssertTrue(lines.allSatisfy { $0.imagePath.hasPrefix(FileIO.absolutePath(kit) + "/JPEGImages/") }, "\(lines.map(\.imagePath))")
        XCTAssertFalse(lines.contains { $0.imagePath.contains("passwd") })
    }
}
