import Tensor

/// How a family turns class logits into probabilities.
public enum ClassScoring: String, Sendable, Codable {
    /// Softmax over C + 1 logits; the last is "no object" (DETR).
    case softmax
    /// An independent sigmoid per class over C logits, no "no object" column (Conditional /
    /// Deformable DETR with the sigmoid focal loss).
    case sigmoid
}

/// The raw outputs of a DETR-family model for one batch (no post-processing).
///
/// - `logits`: [batch, queries, classes + 1] with softmax scoring (the last class is "no
///   object"), [batch, queries, classes] with sigmoid scoring.
/// - `boxes`: [batch, queries, 4], normalised cxcywh in [0, 1] relative to each unpadded image.
/// - `masks`: optional mask logits of the segmentation head, [batch, queries, h, w].
/// - `aux`: the outputs of the earlier decoder layers (first layer first), each without `aux`,
///   for the auxiliary losses.
/// - `groups`: the number of independent query groups (Group DETR) the queries hold, group g
///   being queries g*Q ..< (g+1)*Q; 1 at inference.
public struct DETROutput: Sendable {
    public var logits: Tensor
    public var boxes: Tensor
    public var masks: Tensor?
    public var aux: [DETROutput]
    public var scoring: ClassScoring
    public var groups: Int

    public init(logits: Tensor, boxes: Tensor, masks: Tensor? = nil, aux: [DETROutput] = [],
                scoring: ClassScoring = .softmax, groups: Int = 1) {
        self.logits = logits
        self.boxes = boxes
        self.masks = masks
        self.aux = aux
        self.scoring = scoring
        self.groups = groups
    }

    public var batchSize: Int { logits.shape.first ?? 0 }
    public var numQueries: Int { logits.rank == 3 ? logits.shape[1] : 0 }
    /// Number of real classes (with softmax scoring the logits' last dimension minus "no object").
    public var numClasses: Int { (logits.shape.last ?? 1) - (scoring == .softmax ? 1 : 0) }
    /// Queries per group.
    public var groupQueries: Int { numQueries / Swift.max(groups, 1) }

    /// The queries of group `g` (and the same group of every auxiliary output), as a one-group output.
    public func group(_ g: Int) -> DETROutput {
        if groups == 1 { return self }
        let q = groupQueries
        func part(_ t: Tensor) -> Tensor { t.slice(axis: 1, (g * q)..<((g + 1) * q)) }
        return DETROutput(logits: part(logits), boxes: part(boxes), masks: masks.map(part), aux: aux.map { $0.group(g) },
                          scoring: scoring, groups: 1)
    }

    /// Checks the shapes the matcher, criterion and post-processing rely on.
    public func validate() throws {
        let extra = scoring == .softmax ? 1 : 0
        guard logits.rank == 3, logits.shape[2] >= 1 + extra else {
            let want = scoring == .softmax ? "[batch, queries, classes + 1] with classes >= 1" : "[batch, queries, classes] with classes >= 1"
            throw DETRInputError.badShape(what: "logits", expected: want, got: logits.shape)
        }
        guard boxes.shape == [logits.shape[0], logits.shape[1], 4] else {
            throw DETRInputError.badShape(what: "boxes", expected: "[\(logits.shape[0]), \(logits.shape[1]), 4]", got: boxes.shape)
        }
        guard groups >= 1, logits.shape[1] % groups == 0 else {
            throw DETRInputError.invalidArgument("\(logits.shape[1]) queries do not split into \(groups) groups")
        }
        if let masks, masks.rank != 4 || Array(masks.shape.prefix(2)) != Array(logits.shape.prefix(2)) {
            throw DETRInputError.badShape(what: "masks", expected: "[\(logits.shape[0]), \(logits.shape[1]), h, w]", got: masks.shape)
        }
    }
}

/// The ground truth of one image for training.
///
/// - `labels`: class ids in 0..<classes, one per box.
/// - `boxes`: [boxes, 4], normalised cxcywh in [0, 1] relative to the unpadded image.
/// - `masks`: optional binary instance masks [boxes, H, W] (segmentation training).
public struct DETRTarget: Sendable {
    public var labels: [Int]
    public var boxes: Tensor
    public var masks: Tensor?

    public init(labels: [Int], boxes: Tensor, masks: Tensor? = nil) {
        self.labels = labels
        self.boxes = boxes
        self.masks = masks
    }

    public var count: Int { labels.count }

    /// Checks the shapes and that every label is a real class below `numClasses`.
    public func validate(numClasses: Int, image: Int) throws {
        guard boxes.shape == [labels.count, 4] || (labels.isEmpty && boxes.count == 0) else {
            throw DETRInputError.badShape(what: "target \(image) boxes", expected: "[\(labels.count), 4]", got: boxes.shape)
        }
        for (k, l) in labels.enumerated() where l < 0 || l >= numClasses {
            throw DETRInputError.labelOutOfRange(image: image, index: k, label: l, numClasses: numClasses)
        }
        if let masks, masks.rank != 3 || masks.shape[0] != labels.count {
            throw DETRInputError.badShape(what: "target \(image) masks", expected: "[\(labels.count), H, W]", got: masks.shape)
        }
    }
}

/// Bad inputs to the matcher, the criterion, the box ops or the post-processing.
public enum DETRInputError: Error, Equatable, Sendable, CustomStringConvertible {
    case badShape(what: String, expected: String, got: [Int])
    case labelOutOfRange(image: Int, index: Int, label: Int, numClasses: Int)
    case batchMismatch(outputs: Int, targets: Int)
    /// A box with x1 < x0 or y1 < y0 (or NaN) where valid xyxy boxes are required.
    case degenerateBox(what: String, index: Int, box: [Float])
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .badShape(what, expected, got): return "\(what): expected shape \(expected), got \(got)"
        case let .labelOutOfRange(image, index, label, n):
            return "target \(image) label \(index) is \(label), outside 0..<\(n)"
        case let .batchMismatch(o, t): return "outputs have batch size \(o) but \(t) targets were given"
        case let .degenerateBox(what, index, box): return "\(what): box \(index) \(box) is not a valid xyxy box (x1 >= x0, y1 >= y0)"
        case let .invalidArgument(m): return m
        }
    }
}

/// The boxes of an empty target with shape [0, 4].
extension DETRTarget {
    public static func empty() -> DETRTarget { DETRTarget(labels: [], boxes: Tensor.zeros([0, 4])) }
}
