import Datasets

/// Horizontal flip of a pixel box inside an image of `width` pixels, as DETR's `hflip`
/// does on xyxy boxes: `x' = width - x`, with the two x edges swapped so xmin stays the smaller.
public func horizontallyFlipped(_ box: PixelBox, imageWidth width: Int) -> PixelBox {
    PixelBox(xmin: width - box.xmax, ymin: box.ymin, xmax: width - box.xmin, ymax: box.ymax)
}

/// Horizontal flip of an RGB image.
public func horizontallyFlipped(_ image: RGBImage) -> RGBImage {
    var out = image
    let w = image.width
    for y in 0..<image.height {
        for x in 0..<w {
            out[x, y] = image[w - 1 - x, y]
        }
    }
    return out
}
