import Datasets
import Eval
import Plots
import TestSupport
import XCTest

/// The error analysis' figures: each decodes at its expected size and is not a blank page.
final class AnalysisPlotsTests: XCTestCase {
    /// The number of distinct red values among the pixels (a blank page has one or two).
    func distinctReds(_ image: RGBImage) -> Int {
        Set(stride(from: 0, to: image.pixels.count, by: 3).map { image.pixels[$0] }).count
    }

    func testFigures_DecodeAtTheirSizeAndAreNotBlank() throws {
        let dir = try makeTemporaryDirectory("detrkit-analysis-plots")
        let (_, _, analysis) = try AnalysisSamples.tideGenerated()
        let figures = try AnalysisPlots.write(analysis, to: dir)
        XCTAssertEqual(figures.map(\.name), ["pr_curve.png", "f1_curve.png", "confusion_matrix.png", "tide_errors.png"])
        for (name, png) in figures {
            let image = try ImageIO.load(dir + "/" + name)
            XCTAssertEqual(try ImageIO.decode(png, path: name), image, name)
            XCTAssertGreaterThan(distinctReds(image), 10, "\(name) looks blank")
            switch name {
            case "pr_curve.png", "f1_curve.png", "tide_errors.png":
                XCTAssertEqual([image.width, image.height], [640, 480], name)
            default:
                // 5 cells of 48 px (4 classes + background), the labels and the colour bar around.
                XCTAssertGreaterThan(image.width, 5 * 48 + 134)
                XCTAssertGreaterThan(image.height, 5 * 48 + 100)
                XCTAssertLessThan(image.width, 800)
            }
        }
        // The matrix's darkest cell is dark blue, its emptiest near white (normalised per column).
        let matrix = try ImageIO.load(dir + "/confusion_matrix.png")
        var darkest = 255
        for y in 0..<matrix.height { for x in 0..<matrix.width { let p = matrix[x, y]; if p.2 > 90 { darkest = min(darkest, Int(p.0)) } } }
        XCTAssertLessThan(darkest, 40)
    }

    func testFigures_WithManyClassesOrNoDetections() throws {
        // 30 classes, one image, no detections: grey curves, all-zero F1, an empty matrix.
        let categories = (1...30).map { COCOCategory(id: Int64($0), name: "class \($0)") }
        let annotations = (1...30).map { k in
            COCOAnnotation(id: Int64(k), imageId: 1, categoryId: Int64(k), bbox: COCOBox(x: Double(k), y: 2, width: 10, height: 10),
                           area: 100, isCrowd: false)
        }
        let gt = COCOInstances(images: [COCOImage(id: 1, width: 64, height: 48, fileName: "a.jpg")],
                               categories: categories, annotations: annotations)
        let analysis = try DetectionAnalysis(groundTruth: gt, results: [])
        XCTAssertEqual(analysis.f1.mean.max(), 0)
        for (name, png) in try AnalysisPlots.figures(analysis) {
            let image = try ImageIO.decode(png, path: name)
            XCTAssertGreaterThan(image.width, 300, name)
            XCTAssertGreaterThan(distinctReds(image), 5, name)
        }
    }
}
