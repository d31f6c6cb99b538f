/// Segment-id PNG of one image, decoded: `width * height` ids (Eval's
/// `PanopticQuality.SegmentMap`, the training data set's masks).
public struct PanopticSegmentMap: Sendable {
    public var width: Int
    public var height: Int
    public var ids: [UInt32]

    public init(width: Int, height: Int, ids: [UInt32]) {
        self.width = width; self.height = height; self.ids = ids
    }

    /// Reads a PNG and converts RGB to ids as panopticapi's rgb2id does on PIL's array: an
    /// 8-bit RGB or RGBA PNG gives R + 256 G + 256^2 B (alpha ignored), an 8-bit gray PNG
    /// gives its gray value. Palette, gray+alpha and 16-bit PNGs (where PIL's array holds
    /// something else) are refused with an error naming the file.
    public static func load(_ path: String) throws -> PanopticSegmentMap {
        try load(bytes: try FileIO.readBytes(path), path: path)
    }

    /// Decodes a PNG's bytes as `load` does; `path` names the file in errors.
    public static func load(bytes: [UInt8], path: String) throws -> PanopticSegmentMap {
        var grayIDs = false
        if ImageFormat.sniff(bytes) == .png, bytes.count >= 26 {
            let depth = bytes[24], colorType = bytes[25]
            switch (depth, colorType) {
            case (8, 2), (8, 6): break
            case (8, 0): grayIDs = true
            default:
                let kind = [0: "gray", 2: "RGB", 3: "palette", 4: "gray+alpha", 6: "RGBA"][Int(colorType)] ?? "unknown"
                throw PanopticError.inconsistentSegments(path: path,
                    reason: "\(depth)-bit \(kind) PNG: segment-id PNGs must be 8-bit RGB (id = R + 256 G + 256^2 B)")
            }
        }
        if let fast = ImageIO.decodePNGSegmentIDs(bytes) {
            return PanopticSegmentMap(width: fast.width, height: fast.height, ids: fast.ids)
        }
        let image = try ImageIO.decode(bytes, path: path)
        let n = image.width * image.height
        let ids = image.pixels.withUnsafeBufferPointer { px in
            [UInt32](unsafeUninitializedCapacity: n) { out, count in
                if grayIDs {
                    for i in 0..<n { out[i] = UInt32(px[3 * i]) }
                } else {
                    for i in 0..<n {
                        out[i] = UInt32(px[3 * i]) | UInt32(px[3 * i + 1]) << 8 | UInt32(px[3 * i + 2]) << 16
                    }
                }
                count = n
            }
        }
        return PanopticSegmentMap(width: image.width, height: image.height, ids: ids)
    }
}
