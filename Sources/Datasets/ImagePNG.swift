import CImageShim

// The PNG fast path (Sources/CImageShim/png_fast.c): 8-bit non-interlaced gray, RGB and RGBA
// files are inflated with libdeflate and unfiltered in C, giving the pixels libpng gives; every
// other file, and any file the fast path finds irregular, goes through libpng.
extension ImageIO {
    /// RGB pixels by the fast path, or nil when it does not take the file (decode with libpng).
    static func decodePNGFast(_ bytes: [UInt8]) -> RGBImage? {
        fastDecode(bytes, mode: 0, valuesPerPixel: 3, as: UInt8.self).map {
            RGBImage(width: $0.width, height: $0.height, pixels: $0.values)
        }
    }

    /// Segment ids of an 8-bit non-interlaced RGB, RGBA or gray PNG by the fast path: R + 256 G
    /// + 256^2 B per pixel (alpha ignored; the gray value for gray files), row-major. Nil when the
    /// fast path does not take the file: decode it with `decode` and convert.
    public static func decodePNGSegmentIDs(_ bytes: [UInt8]) -> (width: Int, height: Int, ids: [UInt32])? {
        fastDecode(bytes, mode: 1, valuesPerPixel: 1, as: UInt32.self).map { ($0.width, $0.height, $0.values) }
    }

    /// The fast path's `detr_png_fast_decode` in `mode` (0: RGB bytes, 1: segment ids) straight
    /// into a new array of `valuesPerPixel` values per pixel.
    private static func fastDecode<T>(_ bytes: [UInt8], mode: Int32, valuesPerPixel: Int,
                                      as: T.Type) -> (width: Int, height: Int, values: [T])? {
        bytes.withUnsafeBufferPointer { buf -> (width: Int, height: Int, values: [T])? in
            var w: Int32 = 0, h: Int32 = 0
            guard detr_png_fast_info(buf.baseAddress, buf.count, &w, &h) == 0, allowed(width: Int(w), height: Int(h)) else {
                return nil  // the library path decodes it or reports the error
            }
            let count = Int(w) * Int(h) * valuesPerPixel
            var ok = false
            let values = [T](unsafeUninitializedCapacity: count) { out, initialized in
                ok = detr_png_fast_decode(buf.baseAddress, buf.count, mode, out.baseAddress) == 0
                initialized = ok ? count : 0
            }
            return ok ? (Int(w), Int(h), values) : nil
        }
    }
}

/// The PNG fast path a row at a time, for consumers of segment ids that need no whole image
/// (the panoptic evaluation counts pixel pairs row by row, so that its two maps stay in cache).
/// A reader keeps its buffers from image to image; use one per thread.
public final class PNGSegmentRowReader {
    private let state: OpaquePointer?

    public init() {
        state = detr_png_rows_create()
    }

    deinit {
        detr_png_rows_destroy(state)
    }

    /// Inflates a PNG the fast path takes (8-bit non-interlaced gray, RGB or RGBA) and returns
    /// its size; nil when the fast path does not take the file (decode it with `ImageIO.decode`).
    public func begin(_ bytes: UnsafeBufferPointer<UInt8>) -> (width: Int, height: Int)? {
        guard let state else { return nil }
        // The whole stream is inflated here: refuse an oversized header before that.
        if let size = try? ImageIO.size(of: Array(bytes.prefix(24)), path: ""),
           !ImageIO.allowed(width: size.width, height: size.height) { return nil }
        var w: Int32 = 0, h: Int32 = 0
        guard detr_png_rows_begin(state, bytes.baseAddress, bytes.count, &w, &h) == 0 else { return nil }
        return (Int(w), Int(h))
    }

    /// Writes the next row's `width` segment ids (R + 256 G + 256^2 B, or the gray value); false
    /// on a bad filter type (decode the file with `ImageIO.decode`, which reports it) or past the
    /// last row.
    public func nextRow(into ids: UnsafeMutablePointer<UInt32>) -> Bool {
        guard let state else { return false }
        return detr_png_rows_next_ids(state, ids) == 0
    }

    /// Unfilters the next row of this reader and of `other` (begun on a PNG of the same width)
    /// and writes the runs of equal (id here, id there) pairs along the row pair, left to right:
    /// `keys[i]` = id here << 32 | id there, `lengths[i]` its pixels; room for `width` runs is
    /// needed. The run count, or nil as `nextRow`.
    public func nextRowRuns(with other: PNGSegmentRowReader, keys: UnsafeMutablePointer<UInt64>,
                            lengths: UnsafeMutablePointer<UInt32>) -> Int? {
        guard let state, let otherState = other.state else { return nil }
        let n = detr_png_rows_next_pair_runs(state, otherState, keys, lengths)
        return n < 0 ? nil : n
    }
}
