import Tensor

// Box geometry on tensors, as DETR's util/box_ops.py. Everything is built from engine ops, so
// gradients flow through conversions, IoU and generalized IoU.
//
// Conventions: `cxcywh` = (centre x, centre y, width, height); `xyxy` = (x0, y0, x1, y1) with
// x1 >= x0 and y1 >= y0. Boxes are the last dimension (size 4) of a tensor.

/// The four coordinates of boxes [..., 4] as tensors [..., 1].
private func columns(_ boxes: Tensor) -> [Tensor] {
    boxes.split([1, 1, 1, 1], axis: -1)
}

private func checkLast4(_ boxes: Tensor, _ what: String) throws {
    guard boxes.rank >= 1, boxes.shape[boxes.rank - 1] == 4 else {
        throw DETRInputError.badShape(what: what, expected: "[..., 4]", got: boxes.shape)
    }
}

/// (cx, cy, w, h) -> (x0, y0, x1, y1), on the last dimension of [..., 4].
public func boxCxcywhToXyxy(_ boxes: Tensor) throws -> Tensor {
    try checkLast4(boxes, "boxCxcywhToXyxy")
    if boxes.count == 0 { return Tensor.zeros(boxes.shape) }
    let c = columns(boxes)
    let halfW = c[2] * 0.5, halfH = c[3] * 0.5
    return Tensor.cat([c[0] - halfW, c[1] - halfH, c[0] + halfW, c[1] + halfH], axis: -1)
}

/// (x0, y0, x1, y1) -> (cx, cy, w, h), on the last dimension of [..., 4].
public func boxXyxyToCxcywh(_ boxes: Tensor) throws -> Tensor {
    try checkLast4(boxes, "boxXyxyToCxcywh")
    if boxes.count == 0 { return Tensor.zeros(boxes.shape) }
    let c = columns(boxes)
    let cx = (c[0] + c[2]) * 0.5, cy = (c[1] + c[3]) * 0.5
    return Tensor.cat([cx, cy, c[2] - c[0], c[3] - c[1]], axis: -1)
}

/// Areas of xyxy boxes [..., 4] -> [...].
public func boxArea(_ boxes: Tensor) throws -> Tensor {
    try checkLast4(boxes, "boxArea")
    let outShape = Array(boxes.shape.dropLast())
    if boxes.count == 0 { return Tensor.zeros(outShape) }
    let c = columns(boxes)
    return ((c[2] - c[0]) * (c[3] - c[1])).reshape(outShape)
}

/// Throws unless every xyxy box [N, 4] has x1 >= x0 and y1 >= y0 (NaN fails), as DETR's
/// asserts in `generalized_box_iou`.
public func checkValidXyxy(_ boxes: Tensor, _ what: String) throws {
    try checkLast4(boxes, what)
    let p = boxes.data
    for i in 0..<(boxes.count / 4) {
        let x0 = p[4 * i], y0 = p[4 * i + 1], x1 = p[4 * i + 2], y1 = p[4 * i + 3]
        if !(x1 >= x0 && y1 >= y0) {
            throw DETRInputError.degenerateBox(what: what, index: i, box: [x0, y0, x1, y1])
        }
    }
}

/// IoU, union and enclosing-box area for coordinate columns that broadcast together
/// (a: [N, 1] with b: [1, M] for all pairs, or both [N, 1] for matched pairs).
private func iouParts(_ a: [Tensor], _ b: [Tensor]) -> (iou: Tensor, union: Tensor, enclosing: Tensor) {
    let areaA = (a[2] - a[0]) * (a[3] - a[1])
    let areaB = (b[2] - b[0]) * (b[3] - b[1])
    // Intersection: [max of the top-left corners, min of the bottom-right corners].
    let interW = (a[2].minimum(b[2]) - a[0].maximum(b[0])).clamp(min: 0)
    let interH = (a[3].minimum(b[3]) - a[1].maximum(b[1])).clamp(min: 0)
    let inter = interW * interH
    let union = areaA + areaB - inter
    let iou = inter / union
    // Smallest enclosing box.
    let encW = (a[2].maximum(b[2]) - a[0].minimum(b[0])).clamp(min: 0)
    let encH = (a[3].maximum(b[3]) - a[1].minimum(b[1])).clamp(min: 0)
    return (iou, union, encW * encH)
}

private func pairwiseColumns(_ a: Tensor, _ b: Tensor, _ name: String) throws -> ([Tensor], [Tensor]) {
    guard a.rank == 2, a.shape[1] == 4 else { throw DETRInputError.badShape(what: "\(name) boxes1", expected: "[N, 4]", got: a.shape) }
    guard b.rank == 2, b.shape[1] == 4 else { throw DETRInputError.badShape(what: "\(name) boxes2", expected: "[M, 4]", got: b.shape) }
    let m = b.shape[0]
    return (columns(a), columns(b).map { $0.reshape([1, m]) })
}

/// IoU of every pair of xyxy boxes: a [N, 4], b [M, 4] -> (iou [N, M], union [N, M]).
public func boxIoU(_ a: Tensor, _ b: Tensor) throws -> (iou: Tensor, union: Tensor) {
    let (ca, cb) = try pairwiseColumns(a, b, "boxIoU")
    let n = a.shape[0], m = b.shape[0]
    if n == 0 || m == 0 { return (Tensor.zeros([n, m]), Tensor.zeros([n, m])) }
    let parts = iouParts(ca, cb)
    return (parts.iou, parts.union)
}

/// Generalized IoU (Rezatofighi et al. 2019) of every pair of xyxy boxes: a [N, 4], b [M, 4]
/// -> [N, M], in [-1, 1]. Throws on degenerate boxes (x1 < x0 or y1 < y0), as DETR asserts.
public func generalizedBoxIoU(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    let (ca, cb) = try pairwiseColumns(a, b, "generalizedBoxIoU")
    try checkValidXyxy(a, "generalizedBoxIoU boxes1")
    try checkValidXyxy(b, "generalizedBoxIoU boxes2")
    let n = a.shape[0], m = b.shape[0]
    if n == 0 || m == 0 { return Tensor.zeros([n, m]) }
    let p = iouParts(ca, cb)
    return p.iou - (p.enclosing - p.union) / p.enclosing
}

/// Generalized IoU of matched pairs: a [N, 4], b [N, 4] (xyxy) -> [N]. Equal in value and
/// gradient to the diagonal of `generalizedBoxIoU(a, b)` (DETR's `torch.diag(...)` in
/// `loss_boxes`) without building the N x N matrix.
public func generalizedBoxIoUPaired(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    guard a.rank == 2, a.shape[1] == 4, b.shape == a.shape else {
        throw DETRInputError.badShape(what: "generalizedBoxIoUPaired", expected: "two [N, 4] tensors", got: a.shape + b.shape)
    }
    try checkValidXyxy(a, "generalizedBoxIoUPaired boxes1")
    try checkValidXyxy(b, "generalizedBoxIoUPaired boxes2")
    let n = a.shape[0]
    if n == 0 { return Tensor.zeros([0]) }
    let p = iouParts(columns(a), columns(b))
    let giou = p.iou - (p.enclosing - p.union) / p.enclosing
    return giou.reshape([n])
}
