import Datasets

/// The shapes TIDE compares and their IoU: boxes, or masks decoded once per annotation and
/// result (tidecv's `mask_utils.iou` on the loader's RLEs).
struct TIDEShapes {
    let mode: TIDEMode
    var groundTruthBoxes: [COCOBox] = []
    var resultBoxes: [COCOBox] = []
    /// Mask mode: the masks and their bounding boxes (maskApi's box test before the run walk).
    var groundTruthMasks: [RLE] = []
    var resultMasks: [RLE] = []

    /// Checks that every annotation and result has the field `mode` needs and decodes the masks:
    /// a ground-truth polygon on its image's size (the last image entry with its id, as
    /// tidecv's lookup; 0 x 0 when there is none), a result's polygon likewise, an RLE on its
    /// own size.
    init(groundTruth gt: COCOInstances, results: [COCOResult], mode: TIDEMode) throws {
        self.mode = mode
        switch mode {
        case .box:
            groundTruthBoxes.reserveCapacity(gt.annotations.count)
            for (n, a) in gt.annotations.enumerated() {
                guard let b = a.bbox else { throw COCOEvalError.missingField(what: "ground-truth annotation", index: n, field: "bbox") }
                groundTruthBoxes.append(b)
            }
            resultBoxes.reserveCapacity(results.count)
            for (n, r) in results.enumerated() {
                guard let b = r.bbox else { throw COCOEvalError.missingField(what: "result", index: n, field: "bbox") }
                resultBoxes.append(b)
            }
        case .mask:
            var size: [Int64: (height: Int, width: Int)] = [:]
            for im in gt.images { size[im.id] = (im.height, im.width) }
            func decode(_ seg: COCOSegmentation?, image: Int64, what: String, index: Int) throws -> RLE {
                guard let seg else { throw COCOEvalError.missingField(what: what, index: index, field: "segmentation") }
                let (h, w) = size[image] ?? (0, 0)
                guard let m = RLE(segmentation: seg, height: h, width: w) else {
                    throw COCOEvalError.badSegmentation(what: what, index: index, reason: "its RLE counts do not decode")
                }
                return m
            }
            groundTruthMasks = try gt.annotations.enumerated().map { n, a in
                try decode(a.segmentation, image: a.imageId, what: "ground-truth annotation", index: n)
            }
            resultMasks = try results.enumerated().map { n, r in
                try decode(r.segmentation, image: r.imageId, what: "result", index: n)
            }
            groundTruthBoxes = groundTruthMasks.map(\.boundingBox)
            resultBoxes = resultMasks.map(\.boundingBox)
        }
    }

    /// IoU of result `d` with annotation `g` (a crowd: intersection over the result's area).
    func iou(result d: Int, annotation g: Int, crowd: Bool) -> Double {
        switch mode {
        case .box:
            return MaskIoU.box(resultBoxes[d], groundTruthBoxes[g], crowd: crowd)
        case .mask:
            return MaskIoU.mask(resultMasks[d], groundTruthMasks[g], crowd: crowd, dBox: resultBoxes[d], gBox: groundTruthBoxes[g])
        }
    }
}
