import Base
import Datasets
import Tensor
import TestSupport
import XCTest

final class DemoDataTests: XCTestCase {
    func testGenerate_DeterministicAndConsistent() throws {
        let a = try makeTemporaryDirectory()
        let b = try makeTemporaryDirectory()
        var options = DemoData.Options()
        options.images = 6
        var r1 = SplitMix64(seed: 5)
        var r2 = SplitMix64(seed: 5)
        let s = try DemoData.generate(into: a, options: options, using: &r1)
        _ = try DemoData.generate(into: b, options: options, using: &r2)
        let kit = VOCDevkit(root: a + "/VOCdevkit")
        let ids = try kit.annotationIDs()
        XCTAssertEqual(ids.count, 6)
        XCTAssertEqual(try ClassList.load(s.classesFile).usedNames, DemoData.classNames)
        for id in ids {
            // Same seed, same bytes.
            XCTAssertEqual(try FileIO.readBytes(kit.annotationPath(id)), try FileIO.readBytes(b + "/VOCdevkit/VOC2007/Annotations/\(id).xml"))
            XCTAssertEqual(try FileIO.readBytes(kit.imagesDirectory + "/\(id).jpg"), try FileIO.readBytes(b + "/VOCdevkit/VOC2007/JPEGImages/\(id).jpg"))
            let ann = try VOCAnnotation.load(kit.annotationPath(id))
            let img = try ImageIO.load(kit.imagesDirectory + "/\(id).jpg")
            XCTAssertEqual(ann.size, ImageSize(width: img.width, height: img.height))
            XCTAssertGreaterThanOrEqual(ann.objects.filter { !$0.difficult }.count, 1)
            for o in ann.objects {
                XCTAssertEqual(boxProblems(o.box, size: ann.size), [], id)
                XCTAssertTrue(DemoData.classNames.contains(o.name))
            }
        }
    }

    /// The shapes are where the boxes say: on the uncompressed image, the pixels of the
    /// shape's colour around each box span exactly the box (a triangle's apex may miss the top
    /// row when its width is even). Shapes never touch and their colours are far from the
    /// background's, so no other pixel has that colour.
    func testShapesFillTheirBoxesExactly() {
        var rng = SplitMix64(seed: 11)
        var checked = 0
        for i in 0..<30 {
            let (img, ann) = DemoData.makeImage(id: "t\(i)", using: &rng)
            for o in ann.objects {
                let b = o.box
                let colour = img[(b.xmin + b.xmax) / 2, b.ymax - 1]
                var x0 = Int.max, y0 = Int.max, x1 = Int.min, y1 = Int.min
                for y in max(0, b.ymin - 2)..<min(img.height, b.ymax + 2) {
                    for x in max(0, b.xmin - 2)..<min(img.width, b.xmax + 2) where img[x, y] == colour {
                        x0 = min(x0, x); y0 = min(y0, y); x1 = max(x1, x + 1); y1 = max(y1, y + 1)
                    }
                }
                XCTAssertEqual(x0, b.xmin, "\(o.name) \(b)")
                XCTAssertEqual(x1, b.xmax, "\(o.name) \(b)")
                XCTAssertEqual(y1, b.ymax, "\(o.name) \(b)")
                XCTAssertTrue(y0 == b.ymin || (o.name == "triangle" && y0 == b.ymin + 1), "\(o.name) \(b) top \(y0)")
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 40)
    }
}
