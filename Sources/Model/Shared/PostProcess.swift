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
/// Softmax scoring (DETR), per query: softmax over the C + 1 logits, the best real class (the
/// "no object" class is left out of the max) and its probability as the score. With neither
/// option set, every query is returned in query order, as DETR does.
/// Sigmoid scoring (Conditional / Deformable DETR): the sigmoid of every (query, class) pair,
/// the best `candidates` pairs (default min(100, Q * C)) over queries x classes in decreasing
/// score (ties: lower query, then lower class first), so one query may give several classes.
/// Either way the normalised cxcywh box becomes xyxy scaled by the original image's width and
/// height. `scoreThreshold` keeps the detections whose score is strictly above it (as DETR's
/// demo `probas.max(-1).values > 0.7`); `topK` then keeps the k best, sorted by decreasing
/// score (ties: lower query first).
public struct PostProcess: Sendable {
    public var topK: Int?
    public var scoreThreshold: Float?
    /// Candidates over queries x classes with sigmoid scoring (the official code's 100).
    public var candidates = 100

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
            let logits = output.logits.detach()
            let prob = output.scoring == .softmax ? logits.softmax(axis: -1) : logits.sigmoid()   // [B, Q, C(+1)]
            let xyxy = try boxCxcywhToXyxy(output.boxes.detach())             // [B, Q, 4]
            let b = output.batchSize, q = output.numQueries, width = prob.shape[2]
            var result: [[Detection]] = []
            for img in 0..<b {
                let w = Float(imageSizes[img].width), h = Float(imageSizes[img].height)
                // (query, class, score) candidates.
                var picks: [(query: Int, label: Int, score: Float)] = []
                switch output.scoring {
                case .softmax:
                    for qi in 0..<q {
                        let row = prob.data + (img * q + qi) * width
                        var best = 0
                        for j in 1..<(width - 1) where row[j] > row[best] { best = j }
                        picks.append((qi, best, row[best]))
                    }
                case .sigmoid:
                    let base = prob.data + img * q * width
                    var order = Array(0..<(q * width))
                    order.sort { base[$0] != base[$1] ? base[$0] > base[$1] : $0 < $1 }
                    picks = order.prefix(Swift.min(candidates, q * width)).map { ($0 / width, $0 % width, base[$0]) }
                }
                var dets: [Detection] = []
                for pick in picks {
                    if let t = scoreThreshold, !(pick.score > t) { continue }
                    let bx = xyxy.data + (img * q + pick.query) * 4
                    let box = DetectionBox(x0: bx[0] * w, y0: bx[1] * h, x1: bx[2] * w, y1: bx[3] * h)
                    dets.append(Detection(query: pick.query, label: pick.label, score: pick.score, box: box))
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
