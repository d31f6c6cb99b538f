import Tensor

/// A box in absolute pixel xyxy coordinates of the original image.
public struct DetectionBox: Equatable, Sendable {
    public var x0: Float, y0: Float, x1: Float, y1: Float

    public init(x0: Float, y0: Float, x1: Float, y1: Float) {
        self.x0 = x0
        self.y0 = y0
        self.x1 = x1
        self.y1 = y1
    }
}

/// One detection: the query it comes from, its best real class, that class's probability
/// and its box.
public struct Detection: Equatable, Sendable {
    public var query: Int
    public var label: Int
    public var score: Float
    public var box: DetectionBox

    public init(query: Int, label: Int, score: Float, box: DetectionBox) {
        self.query = query
        self.label = label
        self.score = score
        self.box = box
    }
}

/// DETR's `PostProcess`: turns model outputs into detections in pixel coordinates.
///
/// Per query: softmax over the C + 1 logits, the best real class (the "no object" class is
/// left out of the max) and its probability as the score; the normalised cxcywh box becomes
/// xyxy scaled by the original image's width and height. With neither option set, every
/// query is returned in query order, as DETR does. `scoreThreshold` keeps the queries whose
/// score is strictly above it (as DETR's demo `probas.max(-1).values > 0.7`); `topK` then
/// keeps the k best, sorted by decreasing score (ties: lower query first).
public struct PostProcess: Sendable {
    public var topK: Int?
    public var scoreThreshold: Float?

    public init(topK: Int? = nil, scoreThreshold: Float? = nil) {
        self.topK = topK
        self.scoreThreshold = scoreThreshold
    }

    /// `imageSizes[b]` is (height, width) of image b before resizing and padding.
    public func callAsFunction(_ output: DETROutput, imageSizes: [(height: Int, width: Int)]) throws -> [[Detection]] {
        try process(output, imageSizes: imageSizes)
    }

    public func process(_ output: DETROutput, imageSizes: [(height: Int, width: Int)]) throws -> [[Detection]] {
        try output.validate()
        guard imageSizes.count == output.batchSize else {
            throw DETRInputError.batchMismatch(outputs: output.batchSize, targets: imageSizes.count)
        }
        if let topK, topK < 0 { throw DETRInputError.invalidArgument("PostProcess: topK \(topK) is negative") }
        return try withNoGrad {
            let prob = output.logits.detach().softmax(axis: -1)               // [B, Q, C+1]
            let xyxy = try boxCxcywhToXyxy(output.boxes.detach())             // [B, Q, 4]
            let b = output.batchSize, q = output.numQueries, c1 = output.numClasses + 1
            var result: [[Detection]] = []
            for img in 0..<b {
                let w = Float(imageSizes[img].width), h = Float(imageSizes[img].height)
                var dets: [Detection] = []
                for qi in 0..<q {
                    let row = prob.data + (img * q + qi) * c1
                    var best = 0
                    for j in 1..<(c1 - 1) where row[j] > row[best] { best = j }
                    let score = row[best]
                    if let t = scoreThreshold, !(score > t) { continue }
                    let bx = xyxy.data + (img * q + qi) * 4
                    let box = DetectionBox(x0: bx[0] * w, y0: bx[1] * h, x1: bx[2] * w, y1: bx[3] * h)
                    dets.append(Detection(query: qi, label: best, score: score, box: box))
                }
                if let k = topK {
                    dets.sort { $0.score != $1.score ? $0.score > $1.score : $0.query < $1.query }
                    dets = Array(dets.prefix(k))
                }
                result.append(dets)
            }
            return result
        }
    }
}
