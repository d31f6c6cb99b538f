import Datasets
import Eval
import Foundation
import Model
import Pipeline
import Tensor
import TestSupport
import XCTest

/// Mask2Former's panoptic output written by PanopticWriter and read back by what
/// `get-map panoptic` uses: the PNG's ids, the JSON's segments with the dataset's category ids,
/// and PQ = 1 of the prediction scored against itself written as ground truth.
final class PanopticWriterTests: XCTestCase {
    /// A prediction with two things (classes 0, 1) and a stuff class (2) split over two queries.
    func prediction() -> PanopticPrediction {
        let q = 4, c = 3, h = 12, w = 16
        var logits = [Float](repeating: 0, count: q * (c + 1))
        for (i, cls) in [0, 1, 2, 2].enumerated() { logits[i * (c + 1) + cls] = 8 }
        var masks = [Float](repeating: -6, count: q * h * w)
        for i in 0..<q {
            for y in 0..<h { for x in (i * 4)..<(i * 4 + 4) { masks[(i * h + y) * w + x] = 6 } }
        }
        return Mask2FormerInference.panoptic(classLogits: Tensor(logits, shape: [q, c + 1]), masks: Tensor(masks, shape: [q, h, w]),
                                             isThing: { $0 < 2 })
    }

    func testWrittenPredictionReadsBackAndScoresPQOne() throws {
        let p = prediction()
        XCTAssertEqual(p.segments.map { $0.categoryId }, [0, 1, 2])
        XCTAssertEqual(p.segments.map { $0.area }, [48, 48, 96])
        let dir = try makeTemporaryDirectory("panoptic-writer")
        let categoryIDs = [1, 3, 7]
        let categories = [PanopticCategory(id: 1, name: "person", isThing: 1), PanopticCategory(id: 3, name: "car \"red\"", isThing: 1),
                          PanopticCategory(id: 7, name: "sky", isThing: 0)]
        let items = [PanopticWriter.Item(imageID: .int(42), fileName: "000042.png", prediction: p)]
        try PanopticWriter.write(items, categoryIDs: categoryIDs, json: dir + "/pred.json", folder: dir + "/pred")
        try PanopticWriter.write(items, categoryIDs: categoryIDs, categories: categories, json: dir + "/gt.json", folder: dir + "/gt")

        let map = try PanopticQuality.SegmentMap.load(dir + "/pred/000042.png")
        XCTAssertEqual(map.width, 16)
        XCTAssertEqual(map.height, 12)
        XCTAssertEqual(map.ids.map { Int($0) }, p.ids.map { Int($0) })
        let read = try COCOPanoptic.load(dir + "/pred.json")
        XCTAssertEqual(read.annotations, [PanopticAnnotation(imageID: .int(42), fileName: "000042.png", segments: [
            PanopticSegment(id: 1, categoryID: 1, area: 48), PanopticSegment(id: 2, categoryID: 3, area: 48), PanopticSegment(id: 3, categoryID: 7, area: 96)])])
        XCTAssertEqual(try COCOPanoptic.load(dir + "/gt.json").categories, categories)

        let result = try PanopticQuality.evaluate(groundTruthJSON: dir + "/gt.json", groundTruthFolder: dir + "/gt",
                                                  predictionJSON: dir + "/pred.json", predictionFolder: dir + "/pred", threads: 1)
        XCTAssertEqual(result.all.pq, 1, accuracy: 1e-12)
        XCTAssertEqual(result.all.n, 3)
    }

    func testUnknownClassIsAnErrorNamingTheFile() throws {
        let dir = try makeTemporaryDirectory("panoptic-writer")
        let items = [PanopticWriter.Item(imageID: .string("a"), fileName: "a.png", prediction: prediction())]
        XCTAssertThrowsError(try PanopticWriter.write(items, categoryIDs: [1, 2], json: dir + "/p.json", folder: dir + "/p")) {
            XCTAssertTrue(String(describing: $0).contains(dir + "/p.json"), String(describing: $0))
        }
    }
}
