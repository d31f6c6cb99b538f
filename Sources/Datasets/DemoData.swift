/// The embedded default data set: synthetic images of coloured circles, squares and
/// triangles on noisy backgrounds, with exact VOC annotations, generated deterministically
/// from a seed. `make demo` runs on it and the model issues train on it.
public enum DemoData {
    public static let classNames = ["circle", "square", "triangle"]

    public struct Options: Sendable {
        public var images = 120
        public var minSide = 256
        public var maxSide = 416
        /// Shapes per image (not counting the occasional small "difficult" one).
        public var minShapes = 1
        public var maxShapes = 4
        public var jpegQuality = 92
        /// Square images (height = width) instead of height = 3/4 width.
        public var square = false
        public var year = "2007"
        /// Also write the segmentation outputs (`DemoSegmentation`): VOC segmentation PNGs and
        /// lists and a COCO panoptic set, for the same images.
        public var segmentation = false

        public init() {}
    }

    /// Summary of a generated data set.
    public struct Summary: Sendable {
        public var devkit: String
        public var classesFile: String
        public var images: Int
        public var objects: [String: Int]
        public var difficult: Int
        /// The segmentation outputs, when asked for.
        public var segmentation: DemoSegmentation.Summary?
    }

    /// Writes `<output>/VOCdevkit/VOC<year>/{Annotations,JPEGImages}` and
    /// `<output>/classes.txt`, and with `options.segmentation` the outputs `DemoSegmentation`
    /// describes (which leave these files unchanged). The same generator state gives
    /// byte-identical files.
    public static func generate<G: RandomNumberGenerator>(into output: String, options: Options = Options(),
                                                          using rng: inout G) throws -> Summary {
        let devkit = VOCDevkit(root: FileIO.join(output, "VOCdevkit"), year: options.year)
        try FileIO.makeDirectories(devkit.annotationsDirectory)
        try FileIO.makeDirectories(devkit.imagesDirectory)
        let classesFile = FileIO.join(output, "classes.txt")
        try FileIO.writeAtomically(classesFile, text: classNames.joined(separator: "\n") + "\n")
        var counts: [String: Int] = [:]
        var difficult = 0
        var segmentation = options.segmentation ? try DemoSegmentation.Writer(devkit: devkit, output: output) : nil
        for i in 0..<options.images {
            let id = String(format6(i + 1))
            let scene = makeScene(id: id, options: options, using: &rng)
            let ann = scene.annotation
            try ImageIO.save(scene.image, to: FileIO.join(devkit.imagesDirectory, id + ".jpg"), quality: options.jpegQuality)
            try FileIO.writeAtomically(devkit.annotationPath(id), text: ann.xmlDocument())
            try segmentation?.add(id: id, number: i + 1, scene: scene)
            for o in ann.objects {
                if o.difficult { difficult += 1 } else { counts[o.name, default: 0] += 1 }
            }
        }
        return Summary(devkit: devkit.root, classesFile: classesFile, images: options.images,
                       objects: counts, difficult: difficult, segmentation: try segmentation?.finish())
    }

    /// One synthetic image and its annotation.
    public static func makeImage<G: RandomNumberGenerator>(id: String, options: Options = Options(),
                                                           using rng: inout G) -> (RGBImage, VOCAnnotation) {
        let scene = makeScene(id: id, options: options, using: &rng)
        return (scene.image, scene.annotation)
    }

    /// A generated image with what its segmentation needs besides the annotation.
    struct Scene {
        var image: RGBImage
        var annotation: VOCAnnotation
        /// The background's base colour, before the gradient and noise.
        var base: (Int, Int, Int)
    }

    /// One synthetic image, its annotation and background colour (the random draws of
    /// `makeImage`, which returns this scene's image and annotation).
    static func makeScene<G: RandomNumberGenerator>(id: String, options: Options, using rng: inout G) -> Scene {
        let w = uniform(options.minSide, options.maxSide, &rng)
        let h = options.square ? w : uniform(options.minSide * 3 / 4, options.maxSide * 3 / 4, &rng)
        // Background: a muted base colour, a soft horizontal gradient and per-pixel noise.
        let base = (uniform(40, 200, &rng), uniform(40, 200, &rng), uniform(40, 200, &rng))
        let gradient = uniform(-40, 40, &rng)
        var image = RGBImage(width: w, height: h)
        image.pixels.withUnsafeMutableBufferPointer { px in
            for y in 0..<h {
                for x in 0..<w {
                    let g = gradient * x / max(1, w - 1)
                    let n = Int(rng.next() % 41) - 20
                    let i = 3 * (y * w + x)
                    px[i] = clamp8(base.0 + g + n)
                    px[i + 1] = clamp8(base.1 + g + n)
                    px[i + 2] = clamp8(base.2 + g + n)
                }
            }
        }
        var objects: [VOCObject] = []
        let shapeCount = uniform(options.minShapes, options.maxShapes, &rng)
        let maxSize = min(w, h) / 2
        for _ in 0..<shapeCount {
            for _ in 0..<30 {  // try a few placements; shapes never touch (2-pixel gap)
                let side = uniform(24, max(24, maxSize), &rng)
                let x0 = uniform(0, w - side, &rng)
                let y0 = uniform(0, h - side, &rng)
                let box = PixelBox(xmin: x0, ymin: y0, xmax: x0 + side, ymax: y0 + side)
                if objects.contains(where: { overlap(grown($0.box, by: 2), box) > 0 }) { continue }
                let cls = uniform(0, classNames.count - 1, &rng)
                let colour = contrastingColour(to: base, &rng)
                draw(cls, in: box, colour: colour, on: &image)
                objects.append(VOCObject(name: classNames[cls], pose: "Unspecified", box: box))
                break
            }
        }
        // Now and then a tiny shape, annotated as difficult (left out of the training lines).
        if uniform(0, 9, &rng) == 0 {
            let side = uniform(8, 14, &rng)
            let x0 = uniform(0, w - side, &rng)
            let y0 = uniform(0, h - side, &rng)
            let box = PixelBox(xmin: x0, ymin: y0, xmax: x0 + side, ymax: y0 + side)
            if !objects.contains(where: { overlap(grown($0.box, by: 2), box) > 0 }) {
                let cls = uniform(0, classNames.count - 1, &rng)
                draw(cls, in: box, colour: contrastingColour(to: base, &rng), on: &image)
                objects.append(VOCObject(name: classNames[cls], pose: "Unspecified", difficult: true, box: box))
            }
        }
        let ann = VOCAnnotation(filename: id + ".jpg", folder: "JPEGImages",
                                size: ImageSize(width: w, height: h, depth: 3), objects: objects)
        return Scene(image: image, annotation: ann, base: base)
    }

    /// Fills shape `cls` (0 circle, 1 square, 2 triangle pointing up) inside `box`; a pixel is
    /// filled when its centre lies inside the shape.
    static func draw(_ cls: Int, in box: PixelBox, colour: (Int, Int, Int), on image: inout RGBImage) {
        let c = (UInt8(colour.0), UInt8(colour.1), UInt8(colour.2))
        forEachPixel(of: cls, in: box) { x, y in image[x, y] = c }
    }

    /// Calls `body(x, y)` for every pixel of shape `cls` inside `box`, row by row: the pixels
    /// `draw` fills, and the shape's mask.
    static func forEachPixel(of cls: Int, in box: PixelBox, _ body: (Int, Int) -> Void) {
        let bw = Double(box.width), bh = Double(box.height)
        let cx = Double(box.xmin) + bw / 2, cy = Double(box.ymin) + bh / 2
        for y in box.ymin..<box.ymax {
            for x in box.xmin..<box.xmax {
                let px = Double(x) + 0.5, py = Double(y) + 0.5
                let inside: Bool
                switch cls {
                case 0:
                    let dx = (px - cx) / (bw / 2), dy = (py - cy) / (bh / 2)
                    inside = dx * dx + dy * dy <= 1
                case 1:
                    inside = true
                default:
                    // Apex at the top centre, base along the bottom edge.
                    let t = (py - Double(box.ymin)) / bh
                    inside = abs(px - cx) <= t * bw / 2
                }
                if inside { body(x, y) }
            }
        }
    }

    static func contrastingColour<G: RandomNumberGenerator>(to base: (Int, Int, Int), _ rng: inout G) -> (Int, Int, Int) {
        while true {
            let c = (uniform(0, 255, &rng), uniform(0, 255, &rng), uniform(0, 255, &rng))
            let d = abs(c.0 - base.0) + abs(c.1 - base.1) + abs(c.2 - base.2)
            if d > 180 { return c }
        }
    }

    static func grown(_ b: PixelBox, by m: Int) -> PixelBox {
        PixelBox(xmin: b.xmin - m, ymin: b.ymin - m, xmax: b.xmax + m, ymax: b.ymax + m)
    }

    static func overlap(_ a: PixelBox, _ b: PixelBox) -> Double {
        let iw = min(a.xmax, b.xmax) - max(a.xmin, b.xmin)
        let ih = min(a.ymax, b.ymax) - max(a.ymin, b.ymin)
        if iw <= 0 || ih <= 0 { return 0 }
        let inter = Double(iw * ih)
        return inter / (Double(a.width * a.height + b.width * b.height) - inter)
    }

    /// Uniform integer in `lo...hi` (inclusive): `lo + next() % (hi - lo + 1)`.
    static func uniform<G: RandomNumberGenerator>(_ lo: Int, _ hi: Int, _ rng: inout G) -> Int {
        if hi <= lo { return lo }
        return lo + Int(rng.next() % UInt64(hi - lo + 1))
    }

    static func clamp8(_ v: Int) -> UInt8 { UInt8(max(0, min(255, v))) }

    static func format6(_ n: Int) -> String {
        let s = String(n)
        return String(repeating: "0", count: max(0, 6 - s.count)) + s
    }
}
