import Augment
import Base
import Datasets
import TestSupport
import XCTest

/// `VOCSemanticDataset`: one region per class present in SegmentationClass, every non-void
/// pixel in exactly the region of its class; and how a lines file's image path finds its devkit.
final class VOCSemanticDatasetTests: XCTestCase {
    func testRegions_PartitionTheClassMap() throws {
        let summary = try makeSegmentationDemo(images: 6, minSide: 64, maxSide: 80, seed: 3)
        let kit = VOCDevkit(root: summary.devkit)
        let ids = try kit.readImageSet("trainval", from: .segmentation)
        let data = try VOCSemanticDataset(devkit: kit, ids: ids, classCount: 4)
        // Some pixels void: the generator writes none, so add a void border to the first map.
        var first = try ImageIO.loadIndexed(kit.segmentationClassPath(ids[0]))
        for x in 0..<first.width { first.indices[x] = VOCSegmentation.void }
        try ImageIO.saveIndexed(first, to: kit.segmentationClassPath(ids[0]))
        for (i, id) in ids.enumerated() {
            let s = try data.sample(at: i)
            let map = try ImageIO.loadIndexed(kit.segmentationClassPath(id))
            let m = try XCTUnwrap(s.target.masks)
            XCTAssertEqual(s.target.labels, Array(Set(map.indices.filter { $0 != VOCSegmentation.void }.map(Int.init))).sorted())
            XCTAssertEqual(m.count, s.target.labels.count)
            for y in 0..<map.height {
                for x in 0..<map.width {
                    let c = map.indices[y * map.width + x]
                    let covering = (0..<m.count).filter { m[$0, x, y] == 1 }
                    XCTAssertEqual(covering.map { s.target.labels[$0] }, c == VOCSegmentation.void ? [] : [Int(c)], "\(id) (\(x), \(y))")
                }
            }
            // Boxes are the regions' extents.
            for k in 0..<m.count {
                let xs = (0..<map.width).filter { x in (0..<map.height).contains { m[k, x, $0] == 1 } }
                let ys = (0..<map.height).filter { y in (0..<map.width).contains { m[k, $0, y] == 1 } }
                XCTAssertEqual(s.target.boxes[k], Box(Float(xs.first!), Float(ys.first!), Float(xs.last! + 1), Float(ys.last! + 1)))
            }
        }
        // A class index beyond the classes names the PNG.
        let few = try VOCSemanticDataset(devkit: kit, ids: ids, classCount: 2)
        let bad = try (0..<ids.count).first { try !Set(ImageIO.loadIndexed(kit.segmentationClassPath(ids[$0])).indices).isSubset(of: [0, 1, 255]) }
        XCTAssertThrowsError(try few.sample(at: XCTUnwrap(bad))) { error in
            XCTAssertEqual((error as? DatasetError)?.path, kit.segmentationClassPath(ids[bad!]))
        }
    }

    func testLocatingTheDevkitOfAnImagePath() throws {
        let found = try XCTUnwrap(VOCDevkit.locating(imagePath: "/data/VOCdevkit/VOC2012/JPEGImages/2008_000001.jpg"))
        XCTAssertEqual(found.devkit.root, "/data/VOCdevkit")
        XCTAssertEqual(found.devkit.year, "2012")
        XCTAssertEqual(found.id, "2008_000001")
        let relative = try XCTUnwrap(VOCDevkit.locating(imagePath: "VOCdevkit/VOC2007/JPEGImages/000005.png"))
        // Relative paths are taken from the working directory (the devkit's root is absolute).
        XCTAssertEqual(relative.devkit.root, FileIO.absolutePath("VOCdevkit"))
        XCTAssertEqual(relative.devkit.yearDirectory, FileIO.absolutePath("VOCdevkit/VOC2007"))
        XCTAssertEqual(VOCDevkit.locating(imagePath: "VOC2007/JPEGImages/a.jpg")?.devkit.root, FileIO.absolutePath("."))
        XCTAssertNil(VOCDevkit.locating(imagePath: "/data/images/a.jpg"))
        XCTAssertNil(VOCDevkit.locating(imagePath: "/data/VOC2007/Images/a.jpg"))
        XCTAssertNil(VOCDevkit.locating(imagePath: "/data/Photos/JPEGImages/a.jpg"))
    }
}
