import CCairo
import Datasets
import Foundation

/// An sRGB colour with components in [0, 1].
public struct PlotColor: Sendable, Equatable {
    public var r, g, b: Double

    public init(_ r: Double, _ g: Double, _ b: Double) {
        self.r = r; self.g = g; self.b = b
    }

    /// From 0xRRGGBB.
    public init(hex: UInt32) {
        self.init(Double((hex >> 16) & 0xFF) / 255, Double((hex >> 8) & 0xFF) / 255, Double(hex & 0xFF) / 255)
    }

    // The matplotlib colours the reference plots use.
    public static let white = PlotColor(1, 1, 1)
    public static let black = PlotColor(0, 0, 0)
    public static let gray = PlotColor(hex: 0xB0B0B0)
    public static let lightGray = PlotColor(hex: 0xEBEBEB)
    public static let tab10Blue = PlotColor(hex: 0x1F77B4)
    public static let royalBlue = PlotColor(hex: 0x4169E1)
    public static let forestGreen = PlotColor(hex: 0x228B22)
    public static let crimson = PlotColor(hex: 0xDC143C)
    public static let orangeRed = PlotColor(hex: 0xFF4500)
    public static let gold = PlotColor(hex: 0xFFD700)
    public static let paleVioletRed = PlotColor(hex: 0xDB7093)
    public static let red = PlotColor(1, 0, 0)
}

/// A Cairo image surface to draw plots on, encoded to PNG with the project's ImageIO (so that
/// write errors are typed and name the file). Text uses Cairo's toy font API with DejaVu Sans
/// (any sans-serif face fontconfig finds).
final class PlotCanvas {
    let width: Int
    let height: Int
    private let surface: OpaquePointer
    let cr: OpaquePointer

    init(width: Int, height: Int, background: PlotColor = .white) {
        self.width = width
        self.height = height
        surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(width), Int32(height))
        cr = cairo_create(surface)
        setColor(background)
        cairo_paint(cr)
    }

    deinit {
        cairo_destroy(cr)
        cairo_surface_destroy(surface)
    }

    func setColor(_ c: PlotColor, alpha: Double = 1) {
        if alpha >= 1 {
            cairo_set_source_rgb(cr, c.r, c.g, c.b)
        } else {
            cairo_set_source_rgba(cr, c.r, c.g, c.b, alpha)
        }
    }

    func rectangle(_ x: Double, _ y: Double, _ w: Double, _ h: Double, fill: PlotColor? = nil,
                   stroke: PlotColor? = nil, lineWidth: Double = 1) {
        cairo_rectangle(cr, x, y, w, h)
        if let fill {
            setColor(fill)
            if stroke != nil { cairo_fill_preserve(cr) } else { cairo_fill(cr) }
        }
        if let stroke {
            setColor(stroke)
            cairo_set_line_width(cr, lineWidth)
            cairo_stroke(cr)
        }
    }

    func line(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, color: PlotColor, width: Double = 1) {
        cairo_move_to(cr, x0, y0)
        cairo_line_to(cr, x1, y1)
        setColor(color)
        cairo_set_line_width(cr, width)
        cairo_stroke(cr)
    }

    func dashedLine(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, color: PlotColor, width: Double = 1) {
        let dashes: [Double] = [5, 4]
        cairo_set_dash(cr, dashes, 2, 0)
        line(x0, y0, x1, y1, color: color, width: width)
        cairo_set_dash(cr, nil, 0, 0)
    }

    /// Restricts drawing to a rectangle until `unclip()`.
    func clip(_ x: Double, _ y: Double, _ w: Double, _ h: Double) {
        cairo_reset_clip(cr)
        cairo_rectangle(cr, x, y, w, h)
        cairo_clip(cr)
    }

    func unclip() {
        cairo_reset_clip(cr)
    }

    /// A polyline through device points.
    func polyline(_ points: [(Double, Double)], color: PlotColor, width: Double = 1.5) {
        guard let first = points.first else { return }
        cairo_move_to(cr, first.0, first.1)
        for p in points.dropFirst() { cairo_line_to(cr, p.0, p.1) }
        setColor(color)
        cairo_set_line_width(cr, width)
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND)
        cairo_stroke(cr)
    }

    /// A filled polygon through device points.
    func polygon(_ points: [(Double, Double)], fill: PlotColor, alpha: Double, edge: PlotColor? = nil) {
        guard let first = points.first else { return }
        cairo_move_to(cr, first.0, first.1)
        for p in points.dropFirst() { cairo_line_to(cr, p.0, p.1) }
        cairo_close_path(cr)
        setColor(fill, alpha: alpha)
        if let edge {
            cairo_fill_preserve(cr)
            setColor(edge, alpha: 0.6)
            cairo_set_line_width(cr, 1)
            cairo_stroke(cr)
        } else {
            cairo_fill(cr)
        }
    }

    enum Marker { case circle, square, hexagon }

    func marker(_ m: Marker, at p: (Double, Double), size: Double, color: PlotColor) {
        let r = size / 2
        switch m {
        case .circle:
            cairo_new_sub_path(cr)
            cairo_arc(cr, p.0, p.1, r, 0, 2 * Double.pi)
        case .square:
            cairo_rectangle(cr, p.0 - r, p.1 - r, size, size)
        case .hexagon:
            for k in 0..<6 {
                let a = Double.pi / 3 * Double(k) + Double.pi / 6
                let x = p.0 + r * cos(a), y = p.1 + r * sin(a)
                if k == 0 { cairo_move_to(cr, x, y) } else { cairo_line_to(cr, x, y) }
            }
            cairo_close_path(cr)
        }
        setColor(color)
        cairo_fill(cr)
    }

    enum Align { case left, center, right }

    private func font(size: Double, bold: Bool) {
        cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
                               bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL)
        cairo_set_font_size(cr, size)
    }

    /// Width of `s` in device pixels.
    func textWidth(_ s: String, size: Double, bold: Bool = false) -> Double {
        font(size: size, bold: bold)
        var ext = cairo_text_extents_t()
        cairo_text_extents(cr, s, &ext)
        return ext.x_advance
    }

    /// Draws one line of text; `y` is the vertical centre of the text.
    func text(_ s: String, x: Double, y: Double, size: Double, color: PlotColor = .black,
              bold: Bool = false, align: Align = .left, rotated: Bool = false) {
        font(size: size, bold: bold)
        var ext = cairo_text_extents_t()
        cairo_text_extents(cr, s, &ext)
        let w = ext.x_advance
        let dx: Double
        switch align {
        case .left: dx = 0
        case .center: dx = -w / 2
        case .right: dx = -w
        }
        setColor(color)
        cairo_save(cr)
        cairo_translate(cr, x, y)
        if rotated { cairo_rotate(cr, -Double.pi / 2) }
        // Baseline so that the cap height is centred on y.
        cairo_move_to(cr, dx, size * 0.36)
        cairo_show_text(cr, s)
        cairo_restore(cr)
    }

    /// The canvas as PNG bytes (8-bit RGB).
    func pngBytes() throws -> [UInt8] {
        cairo_surface_flush(surface)
        guard let data = cairo_image_surface_get_data(surface) else {
            throw DatasetError.unwritableFile(path: "<plot>", reason: "Cairo surface has no data")
        }
        let stride = Int(cairo_image_surface_get_stride(surface))
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            let row = data + y * stride
            for x in 0..<width {
                // RGB24: one native-endian 32-bit word per pixel, 0x00RRGGBB.
                let px = UnsafeRawPointer(row + 4 * x).loadUnaligned(as: UInt32.self)
                let o = 3 * (y * width + x)
                rgb[o] = UInt8((px >> 16) & 0xFF)
                rgb[o + 1] = UInt8((px >> 8) & 0xFF)
                rgb[o + 2] = UInt8(px & 0xFF)
            }
        }
        return try ImageIO.encodePNG(pixels: rgb, width: width, height: height, channels: 3)
    }

    /// Encodes and writes the canvas to `path` atomically.
    func writePNG(_ path: String) throws {
        let bytes: [UInt8]
        do {
            bytes = try pngBytes()
        } catch let DatasetError.unwritableFile(_, reason) {
            throw DatasetError.unwritableFile(path: path, reason: reason)
        }
        try FileIO.writeAtomically(path, bytes: bytes)
    }
}
