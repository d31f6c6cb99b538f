import Datasets

/// Intersection over union of two boxes in continuous `xyxy` coordinates (COCO convention:
/// width = xmax - xmin, no +1). Zero when the union is empty.
public func intersectionOverUnion(_ a: PixelBox, _ b: PixelBox) -> Double {
    let iw = Double(min(a.xmax, b.xmax) - max(a.xmin, b.xmin))
    let ih = Double(min(a.ymax, b.ymax) - max(a.ymin, b.ymin))
    if iw <= 0 || ih <= 0 { return 0 }
    let inter = iw * ih
    let areaA = Double(max(0, a.width)) * Double(max(0, a.height))
    let areaB = Double(max(0, b.width)) * Double(max(0, b.height))
    let union = areaA + areaB - inter
    return union > 0 ? inter / union : 0
}
