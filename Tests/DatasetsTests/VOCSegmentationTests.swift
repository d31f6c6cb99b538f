import Base
import Datasets
import TestSupport
import XCTest

/// The VOC segmentation reader on hand-built devkits (pairing, void, the errors), and the shapes
/// generator's segmentation outputs checked against its own annotations.
final class VOCSegmentationTests: XCTestCase {
    /// A one-image devkit: `objects` and `classes` index maps of `w x h` and an XML of `boxes`.
    func devkit(objects: [UInt8], classes: [UInt8], w: Int, h: Int, xmlSize: (Int, Int)? = nil,
                boxes: [PixelBox]) throws -> (VOCDevkit, VOCAnnotation) {
        let kit = VOCDevkit(root: try makeTemporaryDirectory() + "/VOCdevkit")
        try FileIO.makeDirectories(kit.annotationsDirectory)
        try FileIO.makeDirectories(kit.segmentationObjectDirectory)
        try FileIO.makeDirectories(kit.segmentationClassDirectory)
        let size = xmlSize ?? (w, h)
        let ann = VOCAnnotation(filename: "a.jpg", size: ImageSize(width: size.0, height: size.1),
                                objects: boxes.map { VOCObject(name: "thing", box: $0) })
        try FileIO.writeAtomically(kit.annotationPath("a"), text: ann.xmlDocument())
        let pal = IndexedImage.vocPalette
        try ImageIO.saveIndexed(IndexedImage(width: w, height: h, indices: objects, palette: pal), to: kit.segmentationObjectPath("a"))
        try ImageIO.saveIndexed(IndexedImage(width: w, height: h, indices: classes, palette: pal), to: kit.segmentationClassPath("a"))
        return (kit, try VOCAnnotation.load(kit.annotationPath("a")))
    }

    func testLoad_ObjectIndexIsXMLOrderAndVoidIsKept() throws {
        // 4x3: object 2 on the left column, object 1 on the right, a void pixel between.
        let objects: [UInt8] = [2, 0, 255, 1,
                                2, 0, 0, 1,
                                0, 0, 0, 0]
        let classes: [UInt8] = [7, 0, 255, 3,
                                7, 0, 0, 3,
                                0, 0, 0, 0]
        let boxes = [PixelBox(xmin: 3, ymin: 0, xmax: 4, ymax: 2), PixelBox(xmin: 0, ymin: 0, xmax: 1, ymax: 2),
                     PixelBox(xmin: 1, ymin: 2, xmax: 2, ymax: 3)]
        let (kit, ann) = try devkit(objects: objects, classes: classes, w: 4, h: 3, boxes: boxes)
        let seg = try kit.loadSegmentation("a", annotation: ann)
        XCTAssertEqual(seg.objectMasks.count, 3)
        XCTAssertEqual(Array(seg.objectMasks.values[0..<12]), [0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0])
        XCTAssertEqual(Array(seg.objectMasks.values[12..<24]), [1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(Array(seg.objectMasks.values[24..<36]), [UInt8](repeating: 0, count: 12))  // no pixels
        XCTAssertEqual(seg.classMap, classes)
        XCTAssertEqual(seg.voidMask, [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    }

    func testLoad_ObjectIndexWithoutXMLObjectNamesFile() throws {
        let (kit, ann) = try devkit(objects: [0, 3, 1, 0], classes: [0, 1, 1, 0], w: 2, h: 2,
                                    boxes: [PixelBox(xmin: 0, ymin: 1, xmax: 1, ymax: 2)])
        XCTAssertThrowsError(try kit.loadSegmentation("a", annotation: ann)) { error in
            XCTAssertEqual((error as? DatasetError)?.path, kit.segmentationObjectPath("a"))
            XCTAssertTrue("\(error)".contains("object index 3 at pixel (1, 0) but the annotation has 1 object(s)"), "\(error)")
        }
    }

    func testLoad_SizeDifferentFromImageNamesFile() throws {
        let (kit, ann) = try devkit(objects: [0, 0, 0, 0], classes: [0, 0, 0, 0], w: 2, h: 2, xmlSize: (3, 2), boxes: [])
        XCTAssertThrowsError(try kit.loadSegmentation("a", annotation: ann)) { error in
            XCTAssertEqual(error as? DatasetError, .invalidSegmentation(
                path: kit.segmentationObjectPath("a"), reason: "mask of 2x2 pixels for an image of 3x2"))
        }
    }

    func testLoad_RGBMaskRefused() throws {
        let (kit, ann) = try devkit(objects: [0, 0, 0, 0], classes: [0, 0, 0, 0], w: 2, h: 2, boxes: [])
        try ImageIO.save(RGBImage(width: 2, height: 2), to: kit.segmentationClassPath("a"))
        XCTAssertThrowsError(try kit.loadSegmentation("a", annotation: ann)) { error in
            XCTAssertEqual(error as? DatasetError, .notIndexedImage(path: kit.segmentationClassPath("a"), layout: "8-bit RGB"))
        }
    }

    /// The generator's masks against its own annotations: every object's pixels lie inside its
    /// box and touch all four sides (a triangle's apex may miss the top row), object index i is
    /// the i-th XML object, the class map holds its class, and the panoptic segments' areas are
    /// their PNG pixel counts, and the instances files hold the things of those PNGs. The
    /// detection files are the same bytes with and without masks.
    func testGenerator_SegmentationAgreesWithAnnotations() throws {
        let plain = try makeTemporaryDirectory(), withMasks = try makeTemporaryDirectory()
        var options = DemoData.Options()
        options.images = 8
        options.minSide = 96
        options.maxSide = 160
        var r1 = SplitMix64(seed: 11), r2 = SplitMix64(seed: 11)
        _ = try DemoData.generate(into: plain, options: options, using: &r1)
        options.segmentation = true
        let summary = try DemoData.generate(into: withMasks, options: options, using: &r2)
        let seg = try XCTUnwrap(summary.segmentation)
        let kit = VOCDevkit(root: withMasks + "/VOCdevkit")
        let ids = try kit.annotationIDs()
        let trainval = try kit.readImageSet("trainval", from: .segmentation)
        XCTAssertEqual(trainval, ids)
        XCTAssertEqual(Set(try kit.readImageSet("train", from: .segmentation) + kit.readImageSet("val", from: .segmentation)), Set(ids))
        XCTAssertEqual(seg.trainImages + seg.valImages, ids.count)
        let panoptic = try COCOPanoptic.load(seg.panopticTrainJSON).annotations + COCOPanoptic.load(seg.panopticValJSON).annotations
        XCTAssertEqual(panoptic.count, ids.count)
        let instanceFiles = [try COCOInstances.load(seg.instancesTrainJSON), try COCOInstances.load(seg.instancesValJSON)]
        XCTAssertEqual(instanceFiles.map { Set($0.images.map(\.fileName)) },
                       try [seg.panopticTrainJSON, seg.panopticValJSON].map { Set(try COCOPanoptic.load($0).annotations.map { $0.fileName.dropLast(3) + "jpg" }) })
        XCTAssertTrue(instanceFiles.allSatisfy { $0.categories.map(\.name) == DemoData.classNames })
        let instances = instanceFiles[0].annotations + instanceFiles[1].annotations
        let instanceImages = instanceFiles[0].images + instanceFiles[1].images
        XCTAssertTrue(instanceFiles.allSatisfy { Set($0.annotations.map(\.id)).count == $0.annotations.count })
        var objectsSeen = 0
        for id in ids {
            XCTAssertEqual(try FileIO.readBytes(kit.annotationPath(id)), try FileIO.readBytes(plain + "/VOCdevkit/VOC2007/Annotations/\(id).xml"))
            XCTAssertEqual(try FileIO.readBytes(kit.imagesDirectory + "/\(id).jpg"), try FileIO.readBytes(plain + "/VOCdevkit/VOC2007/JPEGImages/\(id).jpg"))
            let ann = try VOCAnnotation.load(kit.annotationPath(id))
            let s = try kit.loadSegmentation(id, annotation: ann)
            XCTAssertEqual(s.voidMask.reduce(0) { $0 + Int($1) }, 0)
            for (i, o) in ann.objects.enumerated() {
                var xs: [Int] = [], ys: [Int] = []
                for y in 0..<s.height {
                    for x in 0..<s.width where s.objectMasks[i, x, y] == 1 {
                        xs.append(x); ys.append(y)
                        XCTAssertEqual(Int(s.classMap[y * s.width + x]), DemoData.classNames.firstIndex(of: o.name)! + 1, id)
                    }
                }
                objectsSeen += 1
                XCTAssertFalse(xs.isEmpty, "\(id) object \(i)")
                XCTAssertTrue(xs.allSatisfy { $0 >= o.box.xmin && $0 < o.box.xmax }, "\(id) object \(i)")
                XCTAssertTrue(ys.allSatisfy { $0 >= o.box.ymin && $0 < o.box.ymax }, "\(id) object \(i)")
                XCTAssertEqual(xs.min(), o.box.xmin, "\(id) object \(i)")
                XCTAssertEqual(xs.max(), o.box.xmax - 1, "\(id) object \(i)")
                XCTAssertEqual(ys.max(), o.box.ymax - 1, "\(id) object \(i)")
                XCTAssertLessThanOrEqual(ys.min()! - o.box.ymin, 1, "\(id) object \(i)")
            }
            // The panoptic PNG: segment id i + 1 where object i is, its areas as the JSON says.
            let a = try XCTUnwrap(panoptic.first { $0.fileName == id + ".png" })
            let png = try ImageIO.load(seg.panopticFolder + "/" + id + ".png")
            var counts: [Int: Int] = [:]
            for p in 0..<(png.width * png.height) {
                let sid = Int(png.pixels[3 * p]) + 256 * Int(png.pixels[3 * p + 1]) + 65536 * Int(png.pixels[3 * p + 2])
                counts[sid, default: 0] += 1
                let o = (0..<ann.objects.count).first { s.objectMasks.values[$0 * png.width * png.height + p] == 1 }
                XCTAssertEqual(sid, o.map { $0 + 1 } ?? ann.objects.count + 1)
            }
            XCTAssertEqual(a.segments.count, counts.count, id)
            for segment in a.segments {
                XCTAssertEqual(segment.area, Double(counts[segment.id] ?? -1), "\(id) segment \(segment.id)")
                let thing = segment.id <= ann.objects.count
                XCTAssertEqual(DemoSegmentation.categories.first { $0.id == segment.categoryID }?.isThing, thing ? 1 : 0)
                if thing { XCTAssertEqual(segment.isCrowd, ann.objects[segment.id - 1].difficult ? 1 : 0) }
            }
            // The instances file: the PNG's thing segments, in order, as RLE masks with their
            // class, crowd flag, area and box.
            let image = try XCTUnwrap(instanceImages.first { $0.fileName == id + ".jpg" })
            XCTAssertEqual([image.width, image.height], [png.width, png.height])
            let things = a.segments.filter { $0.id <= ann.objects.count }
            let mine = instances.filter { $0.imageId == image.id }
            XCTAssertEqual(mine.map(\.categoryId), things.map { Int64($0.categoryID) }, id)
            for (instance, segment) in zip(mine, things) {
                guard case let .compressedRLE(h, w, counts)? = instance.segmentation,
                      let rle = RLE(compressed: counts, height: h, width: w) else { return XCTFail("\(id): not a compressed RLE") }
                let mask = rle.decodeRowMajor()
                XCTAssertEqual([h, w], [png.height, png.width])
                XCTAssertEqual(mask, (0..<(png.width * png.height)).map { p in
                    Int(png.pixels[3 * p]) + 256 * Int(png.pixels[3 * p + 1]) == segment.id ? 1 : 0
                }, "\(id) segment \(segment.id)")
                XCTAssertEqual(instance.area, segment.area)
                XCTAssertEqual(instance.isCrowd, segment.isCrowd == 1)
                XCTAssertEqual(instance.bbox, rle.boundingBox)
            }
        }
        XCTAssertGreaterThan(objectsSeen, 8)
    }
}
