import Datasets
import Eval
import XCTest

/// The confusion matrix on hand-made cases (values worked out by hand from ultralytics'
/// process_batch). Classes: 0 cat, 1 dog, 2 background.
final class ConfusionMatrixTests: XCTestCase {
    typealias D = ConfusionMatrix.Detection
    typealias T = ConfusionMatrix.Truth

    func box(_ x: Double, _ y: Double, _ w: Double, _ h: Double) -> COCOBox { COCOBox(x: x, y: y, width: w, height: h) }

    /// Rows predicted (cat, dog, background), columns true.
    func assertMatrix(_ m: ConfusionMatrix, _ expected: [[Int]], file: StaticString = #filePath, line: UInt = #line) {
        let observed = (0..<3).map { r in (0..<3).map { c in m[r, c] } }
        XCTAssertEqual(observed, expected, "expected \(expected), observed \(observed)", file: file, line: line)
    }

    func testMatchConfusionBelowThresholdAndBackground() {
        var m = ConfusionMatrix(classCount: 2)
        m.add(detections: [D(box: box(0, 0, 10, 10), score: 0.9, classIndex: 0),     // on the cat: correct
                           D(box: box(20, 20, 10, 10), score: 0.8, classIndex: 0),   // on the dog, called cat
                           D(box: box(20, 20, 10, 10), score: 0.2, classIndex: 1),   // below 0.25: dropped
                           D(box: box(50, 50, 5, 5), score: 0.5, classIndex: 1)],    // nothing there: background
              truths: [T(box: box(0, 0, 10, 10), classIndex: 0), T(box: box(20, 20, 10, 10), classIndex: 1)])
        assertMatrix(m, [[1, 1, 0], [0, 0, 1], [0, 0, 0]])
    }

    func testImageWithoutGroundTruth_ScoreThresholdIsStrict() {
        var m = ConfusionMatrix(classCount: 2)
        m.add(detections: [D(box: box(0, 0, 5, 5), score: 0.3, classIndex: 0), D(box: box(0, 0, 5, 5), score: 0.25, classIndex: 1)],
              truths: [])
        assertMatrix(m, [[0, 0, 1], [0, 0, 0], [0, 0, 0]])
    }

    /// ultralytics' quirk: with ground truth and no match at all, unmatched detections add nothing.
    func testNoMatchInImage_DetectionsNotCounted() {
        var m = ConfusionMatrix(classCount: 2)
        m.add(detections: [D(box: box(50, 50, 10, 10), score: 0.9, classIndex: 1)], truths: [T(box: box(0, 0, 10, 10), classIndex: 0)])
        assertMatrix(m, [[0, 0, 0], [0, 0, 0], [1, 0, 0]])
    }

    /// IoU 90 / 200 = 0.45 exactly is not a match (IoU > 0.45).
    func testIoUThresholdIsStrict() {
        var m = ConfusionMatrix(classCount: 2)
        m.add(detections: [D(box: box(0, 0, 9, 10), score: 0.9, classIndex: 0)], truths: [T(box: box(0, 0, 20, 10), classIndex: 0)])
        assertMatrix(m, [[0, 0, 0], [0, 0, 0], [1, 0, 0]])
        var looser = ConfusionMatrix(classCount: 2, iouThreshold: 0.44)
        looser.add(detections: [D(box: box(0, 0, 9, 10), score: 0.9, classIndex: 0)], truths: [T(box: box(0, 0, 20, 10), classIndex: 0)])
        assertMatrix(looser, [[1, 0, 0], [0, 0, 0], [0, 0, 0]])
    }

    /// Greedy, not optimal: d0 overlaps g0 (IoU 1) and g1 (80 / 120); d1 overlaps g0 (80 / 120)
    /// and g1 (60 / 140 < 0.45). Each detection keeps g0, then g0 keeps d0: g1 is missed and
    /// d1 is a false positive although d0-g1, d1-g0 would match both.
    func testTwoStepUniqueMatching() {
        var m = ConfusionMatrix(classCount: 2)
        m.add(detections: [D(box: box(0, 0, 10, 10), score: 0.9, classIndex: 0), D(box: box(-2, 0, 10, 10), score: 0.8, classIndex: 1)],
              truths: [T(box: box(0, 0, 10, 10), classIndex: 0), T(box: box(2, 0, 10, 10), classIndex: 1)])
        assertMatrix(m, [[1, 0, 0], [0, 0, 1], [0, 1, 0]])
    }

    /// One ground truth, two detections: the higher IoU wins whatever the scores or classes.
    func testHighestIoUWins() {
        var m = ConfusionMatrix(classCount: 2)
        m.add(detections: [D(box: box(0, 0, 10, 5), score: 0.9, classIndex: 1), D(box: box(0, 0, 10, 9), score: 0.4, classIndex: 0)],
              truths: [T(box: box(0, 0, 10, 10), classIndex: 0)])
        assertMatrix(m, [[1, 0, 0], [0, 0, 1], [0, 0, 0]])
    }

    func testNormalisedPerColumnAndCSV() {
        var m = ConfusionMatrix(classCount: 2)
        m.add(detections: [D(box: box(0, 0, 10, 10), score: 0.9, classIndex: 0), D(box: box(20, 20, 10, 10), score: 0.8, classIndex: 0),
                           D(box: box(50, 50, 5, 5), score: 0.5, classIndex: 1)],
              truths: [T(box: box(0, 0, 10, 10), classIndex: 0), T(box: box(20, 20, 10, 10), classIndex: 1),
                       T(box: box(90, 90, 5, 5), classIndex: 1)])
        assertMatrix(m, [[1, 1, 0], [0, 0, 1], [0, 1, 0]])
        let n = m.normalised
        XCTAssertEqual(n[0], 1 / (1 + 1e-9))           // cat column: 1 of 1
        XCTAssertEqual(n[1], 1 / (2 + 1e-9))           // dog column: 1 of 2 called cat
        XCTAssertEqual(n[7], 1 / (2 + 1e-9))           // and 1 of 2 missed
        XCTAssertEqual(n[5], 1 / (1 + 1e-9))           // background column: the dog false positive
        XCTAssertEqual(m.csv(names: ["cat", "dog"]), "predicted\\true,cat,dog,background\ncat,1,1,0\ndog,0,0,1\nbackground,0,1,0\n")
        XCTAssertTrue(m.csv(names: ["cat", "dog"], normalised: true).hasPrefix("predicted\\true,cat,dog,background\ncat,\(1 / (1 + 1e-9)),"))
    }

    /// From COCO files: categories in id order, crowds and unknown categories left out.
    func testFromCOCO_CategoriesInIdOrderCrowdsLeftOut() {
        let gt = COCOInstances(images: [COCOImage(id: 5, width: 100, height: 100, fileName: "a")],
                               categories: [COCOCategory(id: 9, name: "dog"), COCOCategory(id: 2, name: "cat")],
                               annotations: [COCOAnnotation(id: 1, imageId: 5, categoryId: 9, bbox: box(0, 0, 10, 10), area: 100),
                                             COCOAnnotation(id: 2, imageId: 5, categoryId: 2, bbox: box(40, 40, 10, 10), area: 100, isCrowd: true)])
        let dt = [COCOResult(imageId: 5, categoryId: 2, bbox: box(0, 0, 10, 10), score: 0.9),
                  COCOResult(imageId: 5, categoryId: 2, bbox: box(40, 40, 10, 10), score: 0.9),
                  COCOResult(imageId: 5, categoryId: 4, bbox: box(0, 0, 10, 10), score: 0.9)]
        let m = ConfusionMatrix(groundTruth: gt, results: dt)
        assertMatrix(m, [[0, 1, 1], [0, 0, 0], [0, 0, 0]])
        XCTAssertTrue(m.csv(categories: gt.categories).hasPrefix("predicted\\true,cat,dog,background\n"))
    }

    /// segm matches on mask IoU: two detections with the ground truth's box, one whose mask is
    /// the other half of that box (box IoU 1, mask IoU near 0) and one with the ground truth's
    /// mask under a half-size box. Boxes match the first, masks the second.
    func testFromCOCO_SegmMatchesOnMasks() throws {
        let lowerLeft = COCOSegmentation.polygons([[0, 0, 0, 20, 20, 20]])
        let upperRight = COCOSegmentation.polygons([[0, 0, 20, 0, 20, 20]])
        let gt = COCOInstances(images: [COCOImage(id: 1, width: 20, height: 20, fileName: "a")],
                               categories: [COCOCategory(id: 1, name: "cat"), COCOCategory(id: 2, name: "dog")],
                               annotations: [COCOAnnotation(id: 1, imageId: 1, categoryId: 1, bbox: box(0, 0, 20, 20), area: 200,
                                                            segmentation: lowerLeft)])
        let dt = [COCOResult(imageId: 1, categoryId: 1, bbox: box(0, 0, 20, 20), segmentation: upperRight, score: 0.9),
                  COCOResult(imageId: 1, categoryId: 2, bbox: box(0, 0, 20, 10), segmentation: lowerLeft, score: 0.8)]
        let halves = MaskIoU.masks([RLE(segmentation: upperRight, height: 20, width: 20)!],
                                   [RLE(segmentation: lowerLeft, height: 20, width: 20)!], isCrowd: [false])[0][0]
        XCTAssertLessThan(halves, 0.45)
        // Boxes: the cat (IoU 1) takes the cat; the dog (IoU 0.5) is left over, on the background.
        assertMatrix(ConfusionMatrix(groundTruth: gt, results: dt), [[1, 0, 0], [0, 0, 1], [0, 0, 0]])
        // Masks: the dog (IoU 1) takes the cat; the cat is on the background.
        assertMatrix(ConfusionMatrix(groundTruth: gt, results: dt, iouType: .segm), [[0, 0, 1], [1, 0, 0], [0, 0, 0]])
    }
}
