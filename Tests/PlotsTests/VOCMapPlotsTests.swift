import Datasets
import Eval
import Plots
import TestSupport
import XCTest

/// The figures of the VOC mAP report: every class's four plots and the two bar charts.
final class VOCMapPlotsTests: XCTestCase {
    func testPlots_AreWrittenAndDecode() throws {
        let dir = try makeTemporaryDirectory("detrkit-voc")
        var input = VOCMapSamples.synthetic(images: 6, seed: 3)
        input.groundTruth[0].append(VOCMapSamples.object("a/b", 0, 0, 9, 9))   // a name that is no file name
        let r = VOCMap.evaluate(input)
        try VOCMapPlots.write(r, to: dir)
        for c in r.classes {
            let file = VOCMapPlots.fileName(c.name)
            for sub in ["AP", "F1", "Recall", "Precision"] {
                let image = try ImageIO.load(dir + "/" + sub + "/" + file)
                XCTAssertEqual(image.width, 640, "\(sub)/\(file)")
                XCTAssertEqual(image.height, 480, "\(sub)/\(file)")
            }
        }
        XCTAssertEqual(VOCMapPlots.fileName("a/b"), "a_b.png")
        let bars = try ImageIO.load(dir + "/mAP.png")
        XCTAssertGreaterThanOrEqual(bars.width, 640)
        XCTAssertNoThrow(try ImageIO.load(dir + "/ground-truth-info.png"))
        // Something was drawn: the AP plot is not a blank page.
        let ap = try ImageIO.load(dir + "/AP/cat.png")
        XCTAssertGreaterThan(Set(stride(from: 0, to: ap.pixels.count, by: 3).map { ap.pixels[$0] }).count, 10)
    }
}
