import CImageShim

/// An image of 8-bit indices, row-major, top row first: a palette PNG's palette indices (not
/// expanded to colours), or an 8-bit gray PNG's values (PIL's mode 'L'). VOC segmentation PNGs
/// are such images (class or object index per pixel, 255 = void).
public struct IndexedImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    /// `width * height` indices: pixel (x, y) at `y * width + x`.
    public var indices: [UInt8]
    /// The palette's RGB triples (`3 * colours` bytes, colour `i` at `3 * i`); nil for a gray PNG
    /// (the values are the indices) and, when writing, for a gray PNG.
    public var palette: [UInt8]?

    public init(width: Int, height: Int, indices: [UInt8], palette: [UInt8]? = nil) {
        precondition(width >= 0 && height >= 0 && indices.count == width * height,
                     "IndexedImage: \(indices.count) indices for \(width)x\(height)")
        self.width = width
        self.height = height
        self.indices = indices
        self.palette = palette
    }

    public subscript(x: Int, y: Int) -> UInt8 {
        get { indices[y * width + x] }
        set { indices[y * width + x] = newValue }
    }

    /// The Pascal VOC colour map (`VOCdevkit/VOCcode/VOClabelcolormap.m`): colour `i` spreads the
    /// bits of `i` over the high bits of R, G and B, three bits a step (0 black, 1 (128, 0, 0),
    /// 255 = void (224, 224, 192)). 768 bytes.
    public static let vocPalette: [UInt8] = (0..<256).flatMap { i -> [UInt8] in
        var r = 0, g = 0, b = 0, c = i
        for j in 0..<8 {
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        }
        return [UInt8(r), UInt8(g), UInt8(b)]
    }
}

extension ImageIO {
    /// Decodes a palette PNG to its palette indices, or an 8-bit gray PNG to its values, as
    /// `np.array(Image.open(path))` gives them. Any other PNG (RGB, RGBA, gray with alpha or of
    /// another depth) or format is refused with an error naming `path` and what the file is.
    public static func decodeIndexed(_ bytes: [UInt8], path: String) throws -> IndexedImage {
        let format = ImageFormat.sniff(bytes)
        guard format == .png else {
            throw DatasetError.unsupportedImageFormat(
                path: path, detected: (bytes.isEmpty ? "empty file" : format.rawValue) + "; palette indices need a palette or 8-bit gray PNG")
        }
        var err = [CChar](repeating: 0, count: Int(DETR_IMAGE_ERRLEN))
        var palette = [UInt8](repeating: 0, count: 768)
        return try bytes.withUnsafeBufferPointer { buf in
            var reader: OpaquePointer? = nil
            var w: Int32 = 0, h: Int32 = 0, colorType: Int32 = 0, depth: Int32 = 0, colours: Int32 = 0
            let rc = detr_png_open_indexed(buf.baseAddress, buf.count, &reader, &w, &h, &colorType, &depth,
                                           &palette, &colours, &err)
            if rc == 2 {
                throw DatasetError.notIndexedImage(path: path, layout: pngLayout(colorType: Int(colorType), depth: Int(depth)))
            }
            guard rc == 0, let reader else {
                throw DatasetError.corruptImage(path: path, format: "PNG", reason: message(err))
            }
            guard allowed(width: Int(w), height: Int(h)) else {
                detr_image_close(reader)
                throw DatasetError.imageTooLarge(path: path, width: Int(w), height: Int(h))
            }
            let count = Int(w) * Int(h)
            let indices = try [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
                guard detr_image_read(reader, out.baseAddress, &err) == 0 else {
                    throw DatasetError.corruptImage(path: path, format: "PNG", reason: message(err))
                }
                initialized = count
            }
            let table = colorType == 3 ? Array(palette.prefix(3 * Int(colours))) : nil
            return IndexedImage(width: Int(w), height: Int(h), indices: indices, palette: table)
        }
    }

    /// Reads a palette (or 8-bit gray) PNG file's indices; see `decodeIndexed`.
    public static func loadIndexed(_ path: String) throws -> IndexedImage {
        try decodeIndexed(try FileIO.readBytes(path), path: path)
    }

    /// Encodes to an 8-bit palette PNG with `image.palette` (1 to 256 colours, every index
    /// below their number), or to an 8-bit gray PNG when the palette is nil.
    public static func encodeIndexedPNG(_ image: IndexedImage) throws -> [UInt8] {
        guard image.width > 0, image.height > 0 else {
            throw DatasetError.unwritableFile(path: "<png>", reason: "empty image \(image.width)x\(image.height)")
        }
        guard let palette = image.palette else {
            return try encodePNG(pixels: image.indices, width: image.width, height: image.height, channels: 1)
        }
        let colours = palette.count / 3
        guard palette.count % 3 == 0, (1...256).contains(colours) else {
            throw DatasetError.unwritableFile(path: "<png>", reason: "a palette of \(palette.count) bytes (need 3 per colour, 1 to 256 colours)")
        }
        if let high = image.indices.max(), Int(high) >= colours {
            throw DatasetError.unwritableFile(path: "<png>", reason: "index \(high) beyond the palette's \(colours) colours")
        }
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        var err = [CChar](repeating: 0, count: Int(DETR_IMAGE_ERRLEN))
        let rc = image.indices.withUnsafeBufferPointer { px in
            palette.withUnsafeBufferPointer { pal in
                detr_png_encode_indexed(px.baseAddress, Int32(image.width), Int32(image.height), 1,
                                        pal.baseAddress, Int32(colours), &out, &size, &err)
            }
        }
        guard rc == 0, let p = out else { throw DatasetError.unwritableFile(path: "<png>", reason: message(err)) }
        defer { detr_image_free(p) }
        return [UInt8](UnsafeBufferPointer(start: p, count: size))
    }

    /// Encodes and writes an indexed PNG (atomically); see `encodeIndexedPNG`.
    public static func saveIndexed(_ image: IndexedImage, to path: String) throws {
        let bytes: [UInt8]
        do {
            bytes = try encodeIndexedPNG(image)
        } catch let DatasetError.unwritableFile(_, reason) {
            throw DatasetError.unwritableFile(path: path, reason: reason)
        }
        try FileIO.writeAtomically(path, bytes: bytes)
    }

    /// A PNG colour type and bit depth in words ("8-bit RGB").
    static func pngLayout(colorType: Int, depth: Int) -> String {
        let names = [0: "gray", 2: "RGB", 3: "palette", 4: "gray with alpha", 6: "RGBA"]
        return "\(depth)-bit \(names[colorType] ?? "colour type \(colorType)")"
    }
}
