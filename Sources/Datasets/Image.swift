import CImageShim

/// An 8-bit RGB image, pixels interleaved row-major (`[height][width][3]`), top row first.
public struct RGBImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    /// `width * height * 3` bytes: R, G, B of pixel (x, y) at `3 * (y * width + x)`.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0 && pixels.count == width * height * 3,
                     "RGBImage: pixel count \(pixels.count) does not match \(width)x\(height)x3")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// An image filled with one colour.
    public init(width: Int, height: Int, fill: (UInt8, UInt8, UInt8) = (0, 0, 0)) {
        var px = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            px[3 * i] = fill.0
            px[3 * i + 1] = fill.1
            px[3 * i + 2] = fill.2
        }
        self.init(width: width, height: height, pixels: px)
    }

    /// The colour at (x, y).
    public subscript(x: Int, y: Int) -> (UInt8, UInt8, UInt8) {
        get {
            let i = 3 * (y * width + x)
            return (pixels[i], pixels[i + 1], pixels[i + 2])
        }
        set {
            let i = 3 * (y * width + x)
            pixels[i] = newValue.0
            pixels[i + 1] = newValue.1
            pixels[i + 2] = newValue.2
        }
    }
}

/// Image container formats, recognised from the first bytes of the data.
public enum ImageFormat: String, Sendable {
    case jpeg = "JPEG"
    case png = "PNG"
    case gif = "GIF"
    case bmp = "BMP"
    case webp = "WebP"
    case tiff = "TIFF"
    case unknown = "unknown"

    /// Sniffs the format from the leading bytes; the file name is never consulted (data sets
    /// contain PNG files named `.jpg`).
    public static func sniff<C: Collection>(_ bytes: C) -> ImageFormat where C.Element == UInt8 {
        let head = Array(bytes.prefix(12))
        func starts(_ sig: [UInt8]) -> Bool { head.count >= sig.count && Array(head.prefix(sig.count)) == sig }
        if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if starts(Array("GIF8".utf8)) { return .gif }
        if starts(Array("BM".utf8)) { return .bmp }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { return .tiff }
        if head.count >= 12 && Array(head[0..<4]) == Array("RIFF".utf8) && Array(head[8..<12]) == Array("WEBP".utf8) {
            return .webp
        }
        return .unknown
    }
}

/// Decoding and encoding of JPEG (libjpeg-turbo) and PNG (libpng). Errors name the file.
public enum ImageIO {
    /// The most pixels an image may have: PIL's `DecompressionBombError` limit (twice
    /// `Image.MAX_IMAGE_PIXELS`). A header claiming more is refused before any allocation, so a
    /// small file cannot make the decoder allocate gigabytes or run for minutes.
    public static let maxPixels = 2 * 89_478_485

    /// Whether an image of this size may be decoded.
    static func allowed(width: Int, height: Int) -> Bool { width * height <= maxPixels }

    /// Decodes JPEG or PNG bytes (format sniffed from the content) to RGB. `path` is only used
    /// in error messages.
    public static func decode(_ bytes: [UInt8], path: String) throws -> RGBImage {
        let format = ImageFormat.sniff(bytes)
        switch format {
        case .jpeg, .png: break
        case .unknown:
            throw DatasetError.unsupportedImageFormat(
                path: path, detected: bytes.isEmpty ? "empty file" : "unrecognised leading bytes")
        default:
            throw DatasetError.unsupportedImageFormat(path: path, detected: format.rawValue)
        }
        if format == .png, let image = decodePNGFast(bytes) { return image }
        return try decodeWithLibrary(bytes, format: format, path: path)
    }

    /// Decodes with libjpeg-turbo or libpng (no PNG fast path): the path of files the fast path
    /// does not take, and the oracle the fast path is tested against.
    static func decodeWithLibrary(_ bytes: [UInt8], format: ImageFormat, path: String) throws -> RGBImage {
        var err = [CChar](repeating: 0, count: Int(DETR_IMAGE_ERRLEN))
        return try bytes.withUnsafeBufferPointer { buf in
            // Phase 1: the header gives the size; phase 2 decodes straight into the array.
            var reader: OpaquePointer? = nil
            var w: Int32 = 0, h: Int32 = 0
            guard detr_image_open(buf.baseAddress, buf.count, format == .png ? 1 : 0, &reader, &w, &h, &err) == 0,
                  let reader else {
                throw DatasetError.corruptImage(path: path, format: format.rawValue, reason: message(err))
            }
            guard allowed(width: Int(w), height: Int(h)) else {
                detr_image_close(reader)
                throw DatasetError.imageTooLarge(path: path, width: Int(w), height: Int(h))
            }
            let count = Int(w) * Int(h) * 3
            let pixels = try [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
                guard detr_image_read(reader, out.baseAddress, &err) == 0 else {
                    throw DatasetError.corruptImage(path: path, format: format.rawValue, reason: message(err))
                }
                initialized = count
            }
            return RGBImage(width: Int(w), height: Int(h), pixels: pixels)
        }
    }

    /// Reads and decodes an image file.
    public static func load(_ path: String) throws -> RGBImage {
        try decode(try FileIO.readBytes(path), path: path)
    }

    /// Width and height from the header only (JPEG SOF, PNG IHDR), without decoding pixels.
    public static func size(of bytes: [UInt8], path: String) throws -> (width: Int, height: Int) {
        switch ImageFormat.sniff(bytes) {
        case .jpeg:
            var w: Int32 = 0, h: Int32 = 0, c: Int32 = 0
            var err = [CChar](repeating: 0, count: Int(DETR_IMAGE_ERRLEN))
            let rc = bytes.withUnsafeBufferPointer { detr_jpeg_info($0.baseAddress, $0.count, &w, &h, &c, &err) }
            if rc != 0 { throw DatasetError.corruptImage(path: path, format: "JPEG", reason: message(err)) }
            return (Int(w), Int(h))
        case .png:
            // Signature (8) + IHDR length (4) + "IHDR" (4) + width (4, big-endian) + height (4).
            guard bytes.count >= 24, Array(bytes[12..<16]) == Array("IHDR".utf8) else {
                throw DatasetError.corruptImage(path: path, format: "PNG", reason: "missing IHDR chunk")
            }
            func be32(_ o: Int) -> Int {
                (Int(bytes[o]) << 24) | (Int(bytes[o + 1]) << 16) | (Int(bytes[o + 2]) << 8) | Int(bytes[o + 3])
            }
            return (be32(16), be32(20))
        case .unknown:
            throw DatasetError.unsupportedImageFormat(path: path, detected: "unrecognised leading bytes")
        case let other:
            throw DatasetError.unsupportedImageFormat(path: path, detected: other.rawValue)
        }
    }

    /// Reads an image file's width and height from its header.
    public static func size(ofFile path: String) throws -> (width: Int, height: Int) {
        try size(of: try FileIO.readBytes(path), path: path)
    }

    /// Encodes to PNG (8-bit RGB).
    public static func encodePNG(_ image: RGBImage) throws -> [UInt8] {
        try encodePNG(pixels: image.pixels, width: image.width, height: image.height, channels: 3)
    }

    /// Encodes interleaved 8-bit pixels with 1 (gray), 3 (RGB) or 4 (RGBA) channels to PNG.
    public static func encodePNG(pixels: [UInt8], width: Int, height: Int, channels: Int) throws -> [UInt8] {
        guard width > 0, height > 0, [1, 3, 4].contains(channels), pixels.count == width * height * channels else {
            throw DatasetError.unwritableFile(path: "<png>", reason: "bad image shape \(width)x\(height)x\(channels) for \(pixels.count) bytes")
        }
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        var err = [CChar](repeating: 0, count: Int(DETR_IMAGE_ERRLEN))
        let rc = pixels.withUnsafeBufferPointer {
            detr_png_encode($0.baseAddress, Int32(width), Int32(height), Int32(channels), &out, &size, &err)
        }
        guard rc == 0, let p = out else { throw DatasetError.unwritableFile(path: "<png>", reason: message(err)) }
        defer { detr_image_free(p) }
        return [UInt8](UnsafeBufferPointer(start: p, count: size))
    }

    /// Encodes to a baseline JPEG; `quality` 1...100 (libjpeg's scale, as PIL's `quality`).
    public static func encodeJPEG(_ image: RGBImage, quality: Int = 90) throws -> [UInt8] {
        guard image.width > 0, image.height > 0 else {
            throw DatasetError.unwritableFile(path: "<jpeg>", reason: "empty image")
        }
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        var err = [CChar](repeating: 0, count: Int(DETR_IMAGE_ERRLEN))
        let rc = image.pixels.withUnsafeBufferPointer {
            detr_jpeg_encode($0.baseAddress, Int32(image.width), Int32(image.height), Int32(quality), &out, &size, &err)
        }
        guard rc == 0, let p = out else { throw DatasetError.unwritableFile(path: "<jpeg>", reason: message(err)) }
        defer { detr_image_free(p) }
        return [UInt8](UnsafeBufferPointer(start: p, count: size))
    }

    /// Encodes and writes an image; the format follows the extension (`.png`, else JPEG).
    public static func save(_ image: RGBImage, to path: String, quality: Int = 90) throws {
        let bytes: [UInt8]
        do {
            bytes = path.lowercased().hasSuffix(".png") ? try encodePNG(image) : try encodeJPEG(image, quality: quality)
        } catch let DatasetError.unwritableFile(_, reason) {
            throw DatasetError.unwritableFile(path: path, reason: reason)
        }
        try FileIO.writeAtomically(path, bytes: bytes)
    }

    static func message(_ buf: [CChar]) -> String {
        let bytes = buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        let text = String(decoding: bytes, as: UTF8.self)
        return text.isEmpty ? "unknown error" : text
    }
}
