import Base

/// The segmentation outputs of the shapes set (`demo-data --segmentation`), for the same images
/// and annotations, computed from them with no random draw of their own (the detection files
/// stay byte-identical):
///
/// - `VOC<year>/SegmentationObject/<id>.png`: object index `i + 1` where the XML's `i`-th shape
///   is, 0 elsewhere; `SegmentationClass/<id>.png`: the shape's class + 1 (circle 1, square 2,
///   triangle 3), 0 elsewhere. Palette PNGs with the VOC colour map; no void.
/// - `VOC<year>/ImageSets/Segmentation/{train,val,trainval}.txt`: every image, `train` the first
///   80% of a seeded shuffle (SplitMix64 seed 16), `val` the rest.
/// - `<output>/panoptic/panoptic_{train,val}.json` and `panoptic/segments/<id>.png`: COCO
///   panoptic ground truth. Things are the shapes (categories 1-3, `isthing` 1; the small
///   "difficult" shapes are crowd regions); stuff is the background, one segment per image whose
///   category is its dominant tint (4 reddish, 5 greenish, 6 bluish background: the largest
///   channel of the background's base colour, which its gradient and noise keep), `isthing` 0.
///   Segment id `i + 1` is the `i`-th object, `objects + 1` the background.
/// - `<output>/panoptic/instances_{train,val}.json`: the same things as COCO instances (the
///   panoptic split, image ids and categories), each shape's visible pixels as a compressed
///   RLE segmentation with its area and box; the difficult shapes are crowd (`iscrowd` 1), as in
///   the panoptic set. The ground truth of `get-map coco --iou-type segm`.
public enum DemoSegmentation {
    /// Panoptic categories: the three shapes as things, then the background tints as stuff.
    public static let categories: [PanopticCategory] =
        DemoData.classNames.enumerated().map { PanopticCategory(id: $0.offset + 1, name: $0.element, isThing: 1) }
        + ["background-red", "background-green", "background-blue"].enumerated().map {
            PanopticCategory(id: DemoData.classNames.count + $0.offset + 1, name: $0.element, isThing: 0)
        }

    /// Where the outputs went.
    public struct Summary: Sendable {
        public var trainImages: Int
        public var valImages: Int
        public var panopticTrainJSON: String
        public var panopticValJSON: String
        public var panopticFolder: String
        public var instancesTrainJSON: String
        public var instancesValJSON: String
    }

    /// The per-image maps of a scene: object indices (0 background) and panoptic segments.
    struct Maps {
        var objects: IndexedImage
        var classes: IndexedImage
        /// Segment ids, row-major (`objects + 1` for the background).
        var segmentIDs: [UInt32]
        var segments: [PanopticSegment]
        var boxes: [PixelBox]
    }

    /// Object, class and panoptic maps of one generated scene.
    static func maps(annotation: VOCAnnotation, width w: Int, height h: Int, base: (Int, Int, Int)) -> Maps {
        var objects = [UInt8](repeating: 0, count: w * h)
        var classes = [UInt8](repeating: 0, count: w * h)
        for (i, o) in annotation.objects.enumerated() {
            let cls = DemoData.classNames.firstIndex(of: o.name) ?? 0
            DemoData.forEachPixel(of: cls, in: o.box) { x, y in
                objects[y * w + x] = UInt8(i + 1)
                classes[y * w + x] = UInt8(cls + 1)
            }
        }
        let stuffID = UInt32(annotation.objects.count + 1)
        var ids = [UInt32](repeating: stuffID, count: w * h)
        var area = [Int](repeating: 0, count: annotation.objects.count + 2)
        var box = [(x0: Int, y0: Int, x1: Int, y1: Int)](repeating: (Int.max, Int.max, -1, -1), count: area.count)
        for y in 0..<h {
            for x in 0..<w {
                let o = Int(objects[y * w + x])
                let id = o == 0 ? Int(stuffID) : o
                ids[y * w + x] = UInt32(id)
                area[id] += 1
                box[id] = (min(box[id].x0, x), min(box[id].y0, y), max(box[id].x1, x), max(box[id].y1, y))
            }
        }
        let tint = [base.0, base.1, base.2].enumerated().max { $0.element < $1.element }?.offset ?? 0
        var segments: [PanopticSegment] = []
        var boxes: [PixelBox] = []
        for id in 1...Int(stuffID) where area[id] > 0 {
            let category: Int
            var crowd = 0
            if id == Int(stuffID) {
                category = DemoData.classNames.count + 1 + tint
            } else {
                let o = annotation.objects[id - 1]
                category = (DemoData.classNames.firstIndex(of: o.name) ?? 0) + 1
                crowd = o.difficult ? 1 : 0
            }
            segments.append(PanopticSegment(id: id, categoryID: category, isCrowd: crowd, area: Double(area[id])))
            boxes.append(PixelBox(xmin: box[id].x0, ymin: box[id].y0, xmax: box[id].x1 + 1, ymax: box[id].y1 + 1))
        }
        let palette = IndexedImage.vocPalette
        return Maps(objects: IndexedImage(width: w, height: h, indices: objects, palette: palette),
                    classes: IndexedImage(width: w, height: h, indices: classes, palette: palette),
                    segmentIDs: ids, segments: segments, boxes: boxes)
    }

    /// Collects the panoptic annotations of the images as they are generated, then writes the
    /// lists and JSON files.
    struct Writer {
        let devkit: VOCDevkit
        let panopticRoot: String
        var segmentsFolder: String { FileIO.join(panopticRoot, "segments") }
        /// `(image id, file name, width, height, segments_info JSON)` of each image, in order.
        var entries: [(id: String, number: Int, width: Int, height: Int, segments: String)] = []
        /// The things of each image (in `entries`' order) as COCO instance annotations without
        /// their `id` and `image_id`: `"category_id": ..., "segmentation": ..., ...}`.
        var things: [[String]] = []

        init(devkit: VOCDevkit, output: String) throws {
            self.devkit = devkit
            panopticRoot = FileIO.join(output, "panoptic")
            try FileIO.makeDirectories(devkit.segmentationObjectDirectory)
            try FileIO.makeDirectories(devkit.segmentationClassDirectory)
            try FileIO.makeDirectories(FileIO.join(panopticRoot, "segments"))
        }

        /// Writes image `id`'s two VOC PNGs and its panoptic PNG.
        mutating func add(id: String, number: Int, scene: DemoData.Scene) throws {
            let w = scene.image.width, h = scene.image.height
            let m = DemoSegmentation.maps(annotation: scene.annotation, width: w, height: h, base: scene.base)
            try ImageIO.saveIndexed(m.objects, to: devkit.segmentationObjectPath(id))
            try ImageIO.saveIndexed(m.classes, to: devkit.segmentationClassPath(id))
            var rgb = [UInt8](repeating: 0, count: 3 * w * h)
            for (p, s) in m.segmentIDs.enumerated() {
                rgb[3 * p] = UInt8(s & 0xFF)
                rgb[3 * p + 1] = UInt8((s >> 8) & 0xFF)
                rgb[3 * p + 2] = UInt8((s >> 16) & 0xFF)
            }
            let png = FileIO.join(segmentsFolder, id + ".png")
            do {
                try FileIO.writeAtomically(png, bytes: try ImageIO.encodePNG(pixels: rgb, width: w, height: h, channels: 3))
            } catch let DatasetError.unwritableFile(_, reason) {
                throw DatasetError.unwritableFile(path: png, reason: reason)
            }
            let info = zip(m.segments, m.boxes).map { s, b in
                "{\"id\": \(s.id), \"category_id\": \(s.categoryID), \"iscrowd\": \(s.isCrowd), \"area\": \(Int(s.area ?? 0)), "
                    + "\"bbox\": [\(b.xmin), \(b.ymin), \(b.width), \(b.height)]}"
            }
            entries.append((id, number, w, h, "[" + info.joined(separator: ", ") + "]"))
            things.append(zip(m.segments, m.boxes).filter { $0.0.categoryID <= DemoData.classNames.count }.map { s, b in
                let rle = RLE(rowMajorMask: m.segmentIDs.map { $0 == UInt32(s.id) ? 1 : 0 }, height: h, width: w)
                return "\"category_id\": \(s.categoryID), \"segmentation\": \(rle.resultJSON), \"area\": \(rle.area), "
                    + "\"bbox\": [\(b.xmin), \(b.ymin), \(b.width), \(b.height)], \"iscrowd\": \(s.isCrowd)}"
            })
        }

        /// The image-set lists and the two panoptic JSON files.
        func finish() throws -> Summary {
            let ids = entries.map { $0.id }
            var rng = SplitMix64(seed: 16)
            let split = VOCSplit.make(ids: ids, trainvalPercent: 1, trainPercent: 0.8, using: &rng)
            try devkit.writeSegmentationImageSets(train: split.train, val: split.val, trainval: split.trainval)
            let trainJSON = FileIO.join(panopticRoot, "panoptic_train.json")
            let valJSON = FileIO.join(panopticRoot, "panoptic_val.json")
            try writeJSON(trainJSON, ids: Set(split.train))
            try writeJSON(valJSON, ids: Set(split.val))
            let instancesTrain = FileIO.join(panopticRoot, "instances_train.json")
            let instancesVal = FileIO.join(panopticRoot, "instances_val.json")
            try writeInstances(instancesTrain, ids: Set(split.train))
            try writeInstances(instancesVal, ids: Set(split.val))
            return Summary(trainImages: split.train.count, valImages: split.val.count,
                           panopticTrainJSON: trainJSON, panopticValJSON: valJSON, panopticFolder: segmentsFolder,
                           instancesTrainJSON: instancesTrain, instancesValJSON: instancesVal)
        }

        /// The things of the chosen images as a COCO instances file.
        func writeInstances(_ path: String, ids: Set<String>) throws {
            var images: [String] = [], annotations: [String] = []
            for (e, objects) in zip(entries, things) where ids.contains(e.id) {
                images.append("{\"id\": \(e.number), \"file_name\": \(jsonString(e.id + ".jpg")), \"width\": \(e.width), \"height\": \(e.height)}")
                for o in objects { annotations.append("{\"id\": \(annotations.count + 1), \"image_id\": \(e.number), " + o) }
            }
            let categories = DemoSegmentation.categories.filter { $0.isThing == 1 }.map {
                "{\"id\": \($0.id), \"name\": \(jsonString($0.name)), \"supercategory\": \"shape\"}"
            }
            let text = "{\"images\": [\n" + images.joined(separator: ",\n") + "\n],\n\"annotations\": [\n"
                + annotations.joined(separator: ",\n") + "\n],\n\"categories\": [\n" + categories.joined(separator: ",\n") + "\n]}\n"
            try FileIO.writeAtomically(path, text: text)
        }

        func writeJSON(_ path: String, ids: Set<String>) throws {
            let chosen = entries.filter { ids.contains($0.id) }
            let images = chosen.map {
                "{\"id\": \($0.number), \"file_name\": \(jsonString($0.id + ".jpg")), \"width\": \($0.width), \"height\": \($0.height)}"
            }
            let annotations = chosen.map {
                "{\"image_id\": \($0.number), \"file_name\": \(jsonString($0.id + ".png")), \"segments_info\": \($0.segments)}"
            }
            let categories = DemoSegmentation.categories.map {
                "{\"id\": \($0.id), \"name\": \(jsonString($0.name)), \"supercategory\": \(jsonString($0.isThing == 1 ? "shape" : "background")), \"isthing\": \($0.isThing)}"
            }
            let text = "{\"images\": [\n" + images.joined(separator: ",\n") + "\n],\n\"annotations\": [\n"
                + annotations.joined(separator: ",\n") + "\n],\n\"categories\": [\n" + categories.joined(separator: ",\n") + "\n]}\n"
            try FileIO.writeAtomically(path, text: text)
        }
    }
}
