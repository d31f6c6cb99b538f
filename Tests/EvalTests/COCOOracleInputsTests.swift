import Datasets
import Eval
import Foundation
import TestSupport
import XCTest

/// Odd inputs that pycocotools accepts give its exact numbers: scores above 1, repeated ids,
/// an empty result list. The expected stats are pycocotools 2.0's on the same edits of the
/// `small` case (scripts/fixtures/coco_reference.py's case files), checked when written.
final class COCOOracleInputsTests: XCTestCase {
    func smallCase() throws -> (gt: COCOInstances, dt: [COCOResult], stats: [Double]) {
        let gt = try COCOInstances.load(TestPaths.fixtures() + "/cases/small_gt.json")
        let dt = try COCOResults.load(TestPaths.fixtures() + "/cases/small_dt.json", groundTruth: gt).results
        let stats = try XCTUnwrap(try COCOReferenceCase.load("own").first { $0.name == "small-bbox" }).stats
        return (gt, dt, stats)
    }

    func stats(_ gt: COCOInstances, _ dt: [COCOResult]) throws -> [Double] {
        try COCOEvaluator(groundTruth: gt, results: dt, params: COCOEvalParams(iouType: .bbox)).run().stats
    }

    /// pycocotools only sorts by score: scores times 10 (all above 1) give the same stats.
    func testScoresAboveOne_GiveTheOracleStats() throws {
        let (gt, dt, expected) = try smallCase()
        let scaled = dt.map { r -> COCOResult in
            var r = r
            r.score *= 10
            return r
        }
        XCTAssertTrue(scaled.allSatisfy { $0.score > 1 })
        assertStats(try stats(gt, scaled), expected, "scores x10")
    }

    /// Repeated image and category ids count once (pycocotools' dictionaries keep one), as
    /// repeated result ids do (loadRes renumbers results).
    func testRepeatedImageCategoryAndResultIds_GiveTheOracleStats() throws {
        var (gt, dt, expected) = try smallCase()
        gt.images.append(gt.images[0])
        gt.categories.append(gt.categories[0])
        assertStats(try stats(gt, dt), expected, "repeated image and category ids")
        let text = "[" + dt.map { r in
            let b = r.bbox!
            return "{\"id\": 1, \"image_id\": \(r.imageId), \"category_id\": \(r.categoryId), \"bbox\": [\(b.x), \(b.y), \(b.width), \(b.height)], \"score\": \(r.score)}"
        }.joined(separator: ", ") + "]"
        let reread = try COCOResults.parse(Array(text.utf8), path: "dt.json", groundTruth: gt).results
        assertStats(try stats(gt, reread), expected, "repeated result ids")
    }

    /// A repeated annotation id: pycocotools' loadAnns reads every annotation of that id as the
    /// last one (its `anns` dictionary keeps one), so the first is replaced by a copy of the last.
    func testRepeatedAnnotationId_GivesTheOracleStats() throws {
        var (gt, dt, _) = try smallCase()
        gt.annotations[4].id = gt.annotations[0].id
        let expected = [0.39564356435643566, 0.6326732673267327, 0.29455445544554454, 0.3199009900990099, 0.7999999999999999, -1.0,
                        0.325, 0.525, 0.525, 0.45, 0.8, -1.0]
        assertStats(try stats(gt, dt), expected, tolerance: 1e-12, "repeated annotation id")
        // The reader warns, naming both indices.
        let text = """
        {"images": [{"id": 1, "width": 9, "height": 9}], "categories": [{"id": 1, "name": "a"}], "annotations": [
         {"id": 5, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2]}, {"id": 5, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2]}]}
        """
        let warnings = try COCOInstances.parse(Array(text.utf8), path: "gt.json").warnings
        XCTAssertEqual(warnings.count, 1, "\(warnings)")
        XCTAssertTrue(warnings.first?.hasPrefix("gt.json: annotations[1].id: 5 repeats annotations[0].id") ?? false, "\(warnings)")
    }

    /// `[]`: no results, every AP 0 (pycocotools' loadRes fails on an empty list; the reference
    /// case builds the empty result set by hand).
    func testEmptyResultList_GivesZeroes() throws {
        let (gt, _, _) = try smallCase()
        let empty = try COCOResults.parse(Array("[]".utf8), path: "dt.json", groundTruth: gt)
        XCTAssertEqual(empty.results.count, 0)
        let expected = try XCTUnwrap(try COCOReferenceCase.load("own").first { $0.name == "small-empty-dt-bbox" }).stats
        assertStats(try stats(gt, empty.results), expected, "empty result list")
    }
}
