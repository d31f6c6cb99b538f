import Datasets

/// The functional transforms: each maps a sample to a new one and keeps boxes, labels, areas,
/// crowd flags and masks consistent. The random wrappers (RandomTransforms.swift) draw their
/// parameters and call these. Semantics follow DETR's `datasets/transforms.py` and the
/// detr-pytorch reference's `get_random_data`.
public enum Functional {
    /// DETR's `get_size_with_aspect_ratio`: the output `(height, width)` when the shorter side
    /// becomes `size`, with `size` first lowered so that the longer side stays within `maxSize`
    /// (Python's `round`, half to even), and the longer side truncated (`int(size * h / w)`).
    public static func sizeWithAspectRatio(width w: Int, height h: Int, size: Int, maxSize: Int?) -> (height: Int, width: Int) {
        var size = size
        if let maxSize {
            let minOriginal = Double(min(w, h)), maxOriginal = Double(max(w, h))
            if maxOriginal / minOriginal * Double(size) > Double(maxSize) {
                size = Int((Double(maxSize) * minOriginal / maxOriginal).rounded(.toNearestOrEven))
            }
        }
        if (w <= h && w == size) || (h <= w && h == size) { return (h, w) }
        if w < h {
            return (Int(Double(size * h) / Double(w)), size)
        }
        return (size, Int(Double(size * w) / Double(h)))
    }

    /// Resizes to exactly `height x width` (PIL's `Image.resize`); boxes and areas scale with
    /// the image, masks are resized nearest and thresholded (DETR's `resize`).
    public static func resize(_ s: Sample, height: Int, width: Int, filter: ResampleFilter = .bilinear) -> Sample {
        let h = max(1, height), w = max(1, width)
        var out = s
        out.image = s.image.resized(width: w, height: h, filter: filter)
        guard s.image.width > 0, s.image.height > 0 else { return out }
        let rw = Float(Double(w) / Double(s.image.width))
        let rh = Float(Double(h) / Double(s.image.height))
        let ra = Float(Double(w) / Double(s.image.width) * (Double(h) / Double(s.image.height)))
        out.target.boxes = s.target.boxes.map { Box($0.x1 * rw, $0.y1 * rh, $0.x2 * rw, $0.y2 * rh) }
        out.target.areas = s.target.areas.map { $0 * ra }
        out.target.masks = s.target.masks?.resizedNearest(height: h, width: w)
        return out
    }

    /// Resizes so that the shorter side is `size` and the longer at most `maxSize` (DETR's rule).
    public static func resize(_ s: Sample, shorterSide size: Int, maxSize: Int?, filter: ResampleFilter = .bilinear) -> Sample {
        let (h, w) = sizeWithAspectRatio(width: s.image.width, height: s.image.height, size: size, maxSize: maxSize)
        return resize(s, height: h, width: w, filter: filter)
    }

    /// Crops the region `top, left, height, width` (parts outside the image are black, as
    /// PIL's crop). Boxes are shifted and clipped to the crop, areas recomputed from the boxes,
    /// masks cropped; objects whose box becomes empty are dropped (DETR's `crop`).
    public static func crop(_ s: Sample, top: Int, left: Int, height: Int, width: Int) -> Sample {
        let h = max(0, height), w = max(0, width)
        var out = s
        out.image = cropPixels(s.image, top: top, left: left, height: h, width: w)
        let fw = Float(w), fh = Float(h), fl = Float(left), ft = Float(top)
        out.target.boxes = s.target.boxes.map { b in
            Box(min(max(b.x1 - fl, 0), fw), min(max(b.y1 - ft, 0), fh), min(max(b.x2 - fl, 0), fw), min(max(b.y2 - ft, 0), fh))
        }
        out.target.areas = out.target.boxes.map { $0.width * $0.height }
        if let m = s.target.masks {
            var cm = MaskStack(count: m.count, height: h, width: w)
            for k in 0..<m.count {
                for y in 0..<h where top + y >= 0 && top + y < m.height {
                    for x in 0..<w where left + x >= 0 && left + x < m.width {
                        cm[k, x, y] = m[k, left + x, top + y]
                    }
                }
            }
            out.target.masks = cm
        }
        out.target = out.target.droppingEmptyBoxes()
        return out
    }

    /// Mirrors left-right: `x -> width - x` with the two x edges swapped.
    public static func hflip(_ s: Sample) -> Sample {
        var out = s
        let w = s.image.width
        out.image = flipPixels(s.image)
        let fw = Float(w)
        out.target.boxes = s.target.boxes.map { Box(fw - $0.x2, $0.y1, fw - $0.x1, $0.y2) }
        if var m = s.target.masks {
            for k in 0..<m.count {
                for y in 0..<m.height {
                    let base = (k * m.height + y) * m.width
                    m.values[base..<(base + m.width)].reverse()
                }
            }
            out.target.masks = m
        }
        return out
    }

    /// Pads on the right and bottom with `fill` (DETR's `pad`: the image stays top-left, so
    /// boxes do not move); masks are padded with zeros.
    public static func pad(_ s: Sample, right: Int, bottom: Int, fill: (UInt8, UInt8, UInt8) = (0, 0, 0)) -> Sample {
        var out = s
        let w = s.image.width + max(0, right), h = s.image.height + max(0, bottom)
        var canvas = RGBImage(width: w, height: h, fill: fill)
        paste(s.image, onto: &canvas, x: 0, y: 0)
        out.image = canvas
        if let m = s.target.masks {
            var pm = MaskStack(count: m.count, height: h, width: w)
            for k in 0..<m.count {
                for y in 0..<m.height {
                    for x in 0..<m.width { pm[k, x, y] = m[k, x, y] }
                }
            }
            out.target.masks = pm
        }
        return out
    }

    /// Resizes to `width x height` (possibly changing the aspect ratio) and pastes the result at
    /// `(x, y)` onto a `canvasWidth x canvasHeight` canvas of `fill`; parts outside the canvas
    /// are cut, boxes are moved and clipped (`x1, y1 >= 0`, `x2 <= W`, `y2 <= H`, as the
    /// reference), masks follow. The building block of letterbox and the scale jitter.
    /// `integerBoxes`: the reference's box arithmetic, which keeps boxes in an int array:
    /// `x * nw / iw + dx` in double precision, truncated toward zero, then clipped.
    public static func resizeAndPaste(_ s: Sample, width nw: Int, height nh: Int, x dx: Int, y dy: Int,
                                      canvasWidth w: Int, canvasHeight h: Int,
                                      fill: (UInt8, UInt8, UInt8) = (128, 128, 128),
                                      filter: ResampleFilter = .bicubic, integerBoxes: Bool = false) -> Sample {
        let resized = resize(s, height: max(1, nh), width: max(1, nw), filter: filter)
        var out = resized
        var canvas = RGBImage(width: w, height: h, fill: fill)
        paste(resized.image, onto: &canvas, x: dx, y: dy)
        out.image = canvas
        let fx = Float(dx), fy = Float(dy), fw = Float(w), fh = Float(h)
        if integerBoxes, s.image.width > 0, s.image.height > 0 {
            let sx = Double(max(1, nw)), sy = Double(max(1, nh))
            let iw = Double(s.image.width), ih = Double(s.image.height)
            func mapX(_ x: Float) -> Float { Float((Double(x) * sx / iw + Double(dx)).rounded(.towardZero)) }
            func mapY(_ y: Float) -> Float { Float((Double(y) * sy / ih + Double(dy)).rounded(.towardZero)) }
            out.target.boxes = s.target.boxes.map { b in
                Box(max(mapX(b.x1), 0), max(mapY(b.y1), 0), min(mapX(b.x2), fw), min(mapY(b.y2), fh))
            }
        } else {
            out.target.boxes = resized.target.boxes.map { b in
                Box(max(b.x1 + fx, 0), max(b.y1 + fy, 0), min(b.x2 + fx, fw), min(b.y2 + fy, fh))
            }
        }
        out.target.areas = out.target.boxes.map(\.area)
        if let m = resized.target.masks {
            var pm = MaskStack(count: m.count, height: h, width: w)
            for k in 0..<m.count {
                for y in 0..<m.height where y + dy >= 0 && y + dy < h {
                    for x in 0..<m.width where x + dx >= 0 && x + dx < w { pm[k, x + dx, y + dy] = m[k, x, y] }
                }
            }
            out.target.masks = pm
        }
        return out
    }

    /// The reference validation transform: scale to fit `width x height` keeping the aspect
    /// ratio (`int(iw * scale)`), bicubic, centred (`(W - nw) // 2`) on grey (128, 128, 128).
    /// `integerBoxes` as in `resizeAndPaste`.
    public static func letterbox(_ s: Sample, width w: Int, height h: Int, filter: ResampleFilter = .bicubic,
                                 integerBoxes: Bool = false) -> Sample {
        let iw = s.image.width, ih = s.image.height
        guard iw > 0, ih > 0 else { return resizeAndPaste(s, width: w, height: h, x: 0, y: 0, canvasWidth: w, canvasHeight: h) }
        let scale = min(Double(w) / Double(iw), Double(h) / Double(ih))
        let nw = Int(Double(iw) * scale), nh = Int(Double(ih) * scale)
        return resizeAndPaste(s, width: nw, height: nh, x: (w - nw) / 2, y: (h - nh) / 2, canvasWidth: w, canvasHeight: h,
                              filter: filter, integerBoxes: integerBoxes)
    }

    // MARK: pixel helpers

    /// Copies `image` onto `canvas` with its top-left corner at `(x, y)`, clipped (PIL's paste).
    public static func paste(_ image: RGBImage, onto canvas: inout RGBImage, x: Int, y: Int) {
        let x0 = max(0, x), x1 = min(canvas.width, x + image.width)
        let y0 = max(0, y), y1 = min(canvas.height, y + image.height)
        guard x0 < x1, y0 < y1 else { return }
        let cw = canvas.width, iw = image.width
        image.pixels.withUnsafeBufferPointer { src in
            canvas.pixels.withUnsafeMutableBufferPointer { dst in
                let n = (x1 - x0) * 3
                for yy in y0..<y1 {
                    let from = src.baseAddress! + ((yy - y) * iw + (x0 - x)) * 3
                    let to = dst.baseAddress! + (yy * cw + x0) * 3
                    to.update(from: from, count: n)
                }
            }
        }
    }

    static func cropPixels(_ image: RGBImage, top: Int, left: Int, height h: Int, width w: Int) -> RGBImage {
        var out = RGBImage(width: w, height: h)
        paste(image, onto: &out, x: -left, y: -top)
        return out
    }

    static func flipPixels(_ image: RGBImage) -> RGBImage {
        let w = image.width, h = image.height
        guard w > 0, h > 0 else { return image }
        let px = [UInt8](unsafeUninitializedCapacity: w * h * 3) { out, initialized in
            image.pixels.withUnsafeBufferPointer { src in
                let s = src.baseAddress!, o = out.baseAddress!
                for y in 0..<h {
                    let row = s + y * w * 3, orow = o + y * w * 3
                    for x in 0..<w {
                        let from = row + (w - 1 - x) * 3
                        orow[3 * x] = from[0]
                        orow[3 * x + 1] = from[1]
                        orow[3 * x + 2] = from[2]
                    }
                }
            }
            initialized = w * h * 3
        }
        return RGBImage(width: w, height: h, pixels: px)
    }
}
