import CCairo
import Datasets
import Foundation

/// One detection to draw: a box in image pixels (`xyxy`, x1 and y1 exclusive edges), the class
/// index that picks its colour, the label text, and an optional mask at the image size.
public struct DrawnDetection: Sendable, Equatable {
    public var x0: Double, y0: Double, x1: Double, y1: Double
    /// Class index (0..C-1): the colour is `DetectionDrawing.color(forClass:)`.
    public var classIndex: Int
    /// The label drawn above the box (for example "dog 0.87"); empty draws no label.
    public var label: String
    /// Row-major, `width * height` of the image; true pixels are tinted with the class colour.
    public var mask: [Bool]?

    public init(x0: Double, y0: Double, x1: Double, y1: Double, classIndex: Int, label: String, mask: [Bool]? = nil) {
        self.x0 = x0; self.y0 = y0; self.x1 = x1; self.y1 = y1
        self.classIndex = classIndex
        self.label = label
        self.mask = mask
    }
}

/// Sizes of the drawing, scaled with the image so that labels stay readable.
public struct DetectionStyle: Sendable, Equatable {
    /// Thickness of the box outline in pixels (drawn inside the box).
    public var lineWidth: Int
    /// Height of the label font in pixels.
    public var fontSize: Double
    /// Opacity of mask tints (0: invisible, 1: opaque).
    public var maskAlpha: Double

    public init(lineWidth: Int, fontSize: Double, maskAlpha: Double = 0.45) {
        self.lineWidth = lineWidth
        self.fontSize = fontSize
        self.maskAlpha = maskAlpha
    }

    /// The reference predict.py's choice in spirit: lines about 1/300 of the image's size
    /// (at least 2 px), text about 3% of its height (at least 11 px).
    public init(imageWidth: Int, imageHeight: Int) {
        let side = Double(max(imageWidth, imageHeight))
        self.init(lineWidth: max(2, Int((side / 300).rounded())),
                  fontSize: max(11, (0.03 * Double(imageHeight)).rounded()))
    }
}

/// Errors of the drawing (Cairo could not make a surface, or a mask has the wrong size).
public enum DrawingError: Error, CustomStringConvertible, Equatable {
    case surface(width: Int, height: Int, reason: String)
    case maskSize(detection: Int, expected: Int, got: Int)

    public var description: String {
        switch self {
        case let .surface(w, h, reason): return "cannot draw on a \(w)x\(h) image: \(reason)"
        case let .maskSize(d, expected, got): return "mask of detection \(d) has \(got) pixels, expected \(expected)"
        }
    }
}

/// Draws detections on images: translucent masks first, then box outlines, then labels on a
/// box of the class colour. Outlines and label boxes are axis-aligned fills on whole pixels
/// (exactly the class colour); text goes through Cairo.
public enum DetectionDrawing {
    /// A stable colour per class, independent of the number of classes: hues step by the
    /// golden ratio (so neighbouring ids get far-apart hues), at high saturation and value.
    public static func color(forClass index: Int) -> (UInt8, UInt8, UInt8) {
        let golden = 0.618033988749895
        let hue = (0.12 + Double(index) * golden).truncatingRemainder(dividingBy: 1)
        // Alternate two value levels so that hues that come close after many steps still differ.
        let value = index % 2 == 0 ? 0.95 : 0.8
        let saturation = 0.85
        return hsvToRGB(hue < 0 ? hue + 1 : hue, saturation, value)
    }

    static func hsvToRGB(_ h: Double, _ s: Double, _ v: Double) -> (UInt8, UInt8, UInt8) {
        let sector = h * 6
        let i = Int(sector.rounded(.down)) % 6
        let f = sector - sector.rounded(.down)
        let p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f))
        let rgb: (Double, Double, Double)
        switch i {
        case 0: rgb = (v, t, p)
        case 1: rgb = (q, v, p)
        case 2: rgb = (p, v, t)
        case 3: rgb = (p, q, v)
        case 4: rgb = (t, p, v)
        default: rgb = (v, p, q)
        }
        func byte(_ x: Double) -> UInt8 { UInt8(min(max((x * 255).rounded(), 0), 255)) }
        return (byte(rgb.0), byte(rgb.1), byte(rgb.2))
    }

    /// `pixel * (1 - alpha) + colour * alpha`, per channel, rounded.
    public static func blend(_ pixel: UInt8, _ colour: UInt8, alpha: Double) -> UInt8 {
        let v = Double(pixel) * (1 - alpha) + Double(colour) * alpha
        return UInt8(min(max(v.rounded(), 0), 255))
    }

    /// The pixel rectangle a box covers: columns `floor(x0)..<ceil(x1)`, rows likewise, clipped
    /// to the image and at least one pixel wide and high. Nil when it lies outside the image
    /// (or has non-finite coordinates).
    public static func pixelRect(x0: Double, y0: Double, x1: Double, y1: Double,
                                 width: Int, height: Int) -> (x: Int, y: Int, width: Int, height: Int)? {
        guard [x0, y0, x1, y1].allSatisfy({ $0.isFinite }), width > 0, height > 0 else { return nil }
        let left = max(0, Int(min(x0, x1).rounded(.down)))
        let top = max(0, Int(min(y0, y1).rounded(.down)))
        guard left < width, top < height else { return nil }
        let right = min(width, max(left + 1, Int(max(x0, x1).rounded(.up))))
        let bottom = min(height, max(top + 1, Int(max(y0, y1).rounded(.up))))
        return (left, top, right - left, bottom - top)
    }

    /// The image with the detections drawn on it.
    public static func draw(_ detections: [DrawnDetection], on image: RGBImage, style: DetectionStyle? = nil) throws -> RGBImage {
        guard image.width > 0, image.height > 0 else { return image }
        let style = style ?? DetectionStyle(imageWidth: image.width, imageHeight: image.height)
        var tinted = image
        for (k, d) in detections.enumerated() {
            guard let mask = d.mask else { continue }
            guard mask.count == image.width * image.height else {
                throw DrawingError.maskSize(detection: k, expected: image.width * image.height, got: mask.count)
            }
            tint(&tinted, mask: mask, colour: color(forClass: d.classIndex), alpha: style.maskAlpha)
        }
        let surface = try CairoImage(tinted)
        for d in detections {
            guard let r = pixelRect(x0: d.x0, y0: d.y0, x1: d.x1, y1: d.y1, width: image.width, height: image.height) else { continue }
            surface.outline(r, thickness: style.lineWidth, colour: color(forClass: d.classIndex))
        }
        // Labels after every outline, so that no outline crosses a label.
        for d in detections where !d.label.isEmpty {
            guard let r = pixelRect(x0: d.x0, y0: d.y0, x1: d.x1, y1: d.y1, width: image.width, height: image.height) else { continue }
            surface.label(d.label, above: r, fontSize: style.fontSize, colour: color(forClass: d.classIndex))
        }
        return surface.image()
    }

    static func tint(_ image: inout RGBImage, mask: [Bool], colour: (UInt8, UInt8, UInt8), alpha: Double) {
        image.pixels.withUnsafeMutableBufferPointer { px in
            for i in mask.indices where mask[i] {
                px[3 * i] = blend(px[3 * i], colour.0, alpha: alpha)
                px[3 * i + 1] = blend(px[3 * i + 1], colour.1, alpha: alpha)
                px[3 * i + 2] = blend(px[3 * i + 2], colour.2, alpha: alpha)
            }
        }
    }
}

/// An RGB image on a Cairo RGB24 surface (one native-endian 0x00RRGGBB word per pixel).
private final class CairoImage {
    let width: Int
    let height: Int
    let surface: OpaquePointer
    let cr: OpaquePointer

    init(_ image: RGBImage) throws {
        let width = image.width, height = image.height
        self.width = width
        self.height = height
        // Cairo's image surfaces hold at most 32767 pixels a side.
        guard width <= 32767, height <= 32767 else {
            throw DrawingError.surface(width: width, height: height, reason: "larger than Cairo's 32767-pixel limit")
        }
        guard let s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(width), Int32(height)) else {
            throw DrawingError.surface(width: width, height: height, reason: "no surface")
        }
        let status = cairo_surface_status(s)
        guard status == CAIRO_STATUS_SUCCESS, let data = cairo_image_surface_get_data(s) else {
            let reason = String(cString: cairo_status_to_string(status))
            cairo_surface_destroy(s)
            throw DrawingError.surface(width: width, height: height, reason: reason)
        }
        surface = s
        let stride = Int(cairo_image_surface_get_stride(s))
        image.pixels.withUnsafeBufferPointer { px in
            for y in 0..<height {
                let row = UnsafeMutableRawPointer(data + y * stride)
                for x in 0..<width {
                    let i = 3 * (y * width + x)
                    let word = (UInt32(px[i]) << 16) | (UInt32(px[i + 1]) << 8) | UInt32(px[i + 2])
                    row.storeBytes(of: word, toByteOffset: 4 * x, as: UInt32.self)
                }
            }
        }
        cairo_surface_mark_dirty(s)
        cr = cairo_create(s)
    }

    deinit {
        cairo_destroy(cr)
        cairo_surface_destroy(surface)
    }

    private func setColour(_ c: (UInt8, UInt8, UInt8)) {
        cairo_set_source_rgb(cr, Double(c.0) / 255, Double(c.1) / 255, Double(c.2) / 255)
    }

    /// Fills whole pixels (integer rectangle): exact colour, no antialiasing at the edges.
    private func fill(_ x: Int, _ y: Int, _ w: Int, _ h: Int, _ c: (UInt8, UInt8, UInt8)) {
        guard w > 0, h > 0 else { return }
        setColour(c)
        cairo_rectangle(cr, Double(x), Double(y), Double(w), Double(h))
        cairo_fill(cr)
    }

    /// A rectangle outline `thickness` pixels wide along the inside of `r`.
    func outline(_ r: (x: Int, y: Int, width: Int, height: Int), thickness: Int, colour: (UInt8, UInt8, UInt8)) {
        let t = max(1, thickness)
        let tx = min(t, r.width), ty = min(t, r.height)
        fill(r.x, r.y, r.width, ty, colour)                           // top
        fill(r.x, r.y + r.height - ty, r.width, ty, colour)           // bottom
        fill(r.x, r.y, tx, r.height, colour)                          // left
        fill(r.x + r.width - tx, r.y, tx, r.height, colour)           // right
    }

    /// The label on a filled box of the class colour, sitting on the box's top edge (inside the
    /// box when there is no room above), kept inside the image; black or white text, whichever
    /// contrasts more with the colour.
    func label(_ text: String, above r: (x: Int, y: Int, width: Int, height: Int), fontSize: Double, colour: (UInt8, UInt8, UInt8)) {
        cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD)
        cairo_set_font_size(cr, fontSize)
        var ext = cairo_text_extents_t()
        cairo_text_extents(cr, text, &ext)
        var fe = cairo_font_extents_t()
        cairo_font_extents(cr, &fe)
        let pad = max(1, Int((fontSize / 6).rounded()))
        let boxW = min(width, Int(ext.x_advance.rounded(.up)) + 2 * pad)
        let boxH = min(height, Int((fe.ascent + fe.descent).rounded(.up)) + pad)
        let x = max(0, min(r.x, width - boxW))
        let y = r.y - boxH >= 0 ? r.y - boxH : min(r.y, height - boxH)
        fill(x, y, boxW, boxH, colour)
        let luminance = 0.299 * Double(colour.0) + 0.587 * Double(colour.1) + 0.114 * Double(colour.2)
        setColour(luminance > 140 ? (0, 0, 0) : (255, 255, 255))
        cairo_save(cr)
        cairo_rectangle(cr, Double(x), Double(y), Double(boxW), Double(boxH))
        cairo_clip(cr)
        cairo_move_to(cr, Double(x + pad), Double(y) + Double(pad) / 2 + fe.ascent)
        cairo_show_text(cr, text)
        cairo_restore(cr)
    }

    func image() -> RGBImage {
        cairo_surface_flush(surface)
        var out = RGBImage(width: width, height: height)
        guard let data = cairo_image_surface_get_data(surface) else { return out }
        let stride = Int(cairo_image_surface_get_stride(surface))
        out.pixels.withUnsafeMutableBufferPointer { px in
            for y in 0..<height {
                let row = UnsafeRawPointer(data + y * stride)
                for x in 0..<width {
                    let word = row.loadUnaligned(fromByteOffset: 4 * x, as: UInt32.self)
                    let i = 3 * (y * width + x)
                    px[i] = UInt8((word >> 16) & 0xFF)
                    px[i + 1] = UInt8((word >> 8) & 0xFF)
                    px[i + 2] = UInt8(word & 0xFF)
                }
            }
        }
        return out
    }
}
