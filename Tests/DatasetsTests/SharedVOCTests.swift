import Datasets
import Foundation
import Tensor
import TestSupport
import XCTest

/// Integration tests on the real VOC sets in ../shared/data/voc (skipped when absent).
final class SharedVOCTests: XCTestCase {
    func testRaccoon_ParseDecodeAndCount() throws {
        let base = try TestPaths.sharedVOC("raccoon")
        let kit = VOCDevkit(root: base + "/VOCdevkit")
        let ids = try kit.annotationIDs()
        XCTAssertEqual(ids.count, 200)
        let images = try kit.imageFiles()
        var objects = 0
        for id in ids {
            let ann = try VOCAnnotation.load(kit.annotationPath(id))
            objects += ann.objects.count
            let path = kit.imagesDirectory + "/" + images[id]!
            let img = try ImageIO.load(path)
            XCTAssertEqual(img.width, ann.size?.width, id)
            XCTAssertEqual(img.height, ann.size?.height, id)
        }
        XCTAssertEqual(objects, 217)
        // Three of the JPEGs are single-component (grayscale) files; they decode to RGB.
        var oneComponent = 0
        for id in ids {
            let bytes = try FileIO.readBytes(kit.imagesDirectory + "/" + images[id]!)
            if let sof = findSOFComponents(bytes), sof == 1 { oneComponent += 1 }
        }
        XCTAssertEqual(oneComponent, 3)
    }

    /// Number of components in a JPEG's SOF marker.
    func findSOFComponents(_ b: [UInt8]) -> Int? {
        var i = 2
        while i + 9 < b.count {
            guard b[i] == 0xFF else { return nil }
            let marker = b[i + 1]
            let len = Int(b[i + 2]) << 8 | Int(b[i + 3])
            if (0xC0...0xCF).contains(marker) && marker != 0xC4 && marker != 0xC8 && marker != 0xCC {
                return Int(b[i + 9])
            }
            i += 2 + len
        }
        return nil
    }

    func testBCCD_CountsAndZeroAreaBoxes() throws {
        let base = try TestPaths.sharedVOC("bccd")
        let kit = VOCDevkit(root: base + "/VOCdevkit")
        let ids = try kit.annotationIDs()
        XCTAssertEqual(ids.count, 364)
        var counts: [String: Int] = [:]
        var zeroArea: [String] = []
        for id in ids {
            let ann = try VOCAnnotation.load(kit.annotationPath(id))
            for o in ann.objects {
                counts[o.name, default: 0] += 1
                if boxProblems(o.box, size: ann.size).contains(.zeroArea) { zeroArea.append(id) }
            }
        }
        XCTAssertEqual(counts, ["RBC": 4155, "WBC": 372, "Platelets": 361])
        XCTAssertEqual(zeroArea, ["BloodImage_00338", "BloodImage_00343"])
        // Every image decodes to the size its XML states.
        let conv = try kit.convert(ids: ids, classes: try ClassList.load(base + "/classes.txt"),
                                   imageFiles: try kit.imageFiles(), checkBoxes: true, decodeImages: true, threads: 2)
        XCTAssertEqual(conv.imageMismatches, [])
        XCTAssertEqual(conv.suspicious.map { $0.id }, ["BloodImage_00338", "BloodImage_00343"])
        XCTAssertEqual(conv.suspicious.map { $0.problems }, [[.zeroArea], [.zeroArea]])
    }

    /// Every line's boxes equal what the reference convert_annotation (xml.etree) writes.
    func testConvert_BoxesEqualReference() throws {
        let ref = try VOCSplitTests.reference()
        for (name, expected) in [("raccoon", ref.raccoon), ("bccd", ref.bccd)] {
            let base = try TestPaths.sharedVOC(name)
            let kit = VOCDevkit(root: base + "/VOCdevkit")
            let ids = try kit.annotationIDs()
            let images = try kit.imageFiles()
            let conv = try kit.convert(ids: ids, classes: try ClassList.load(base + "/classes.txt"), imageFiles: images)
            XCTAssertEqual(conv.lines.count, ids.count)
            XCTAssertEqual(conv.missingImages, [])
            for (id, line) in zip(ids, conv.lines) {
                XCTAssertEqual(line.imagePath, kit.imagesDirectory + "/" + images[id]!)
                XCTAssertTrue(line.imagePath.hasPrefix("/"))
                let text = try AnnotationLines.format(line)
                XCTAssertEqual(String(text.dropFirst(line.imagePath.count)), expected.boxes[id], "\(name) \(id)")
            }
        }
    }
}
