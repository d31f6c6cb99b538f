import Tensor

/// DETR's raw outputs: class logits [B, Q, C+1] (the last class is "no object") and boxes
/// [B, Q, 4] as normalised cxcywh in [0, 1] relative to each unpadded image; `aux` holds the
/// same for every decoder layer but the last (empty without auxiliary losses).
public struct DETROutput {
    public var logits: Tensor
    public var boxes: Tensor
    public var aux: [DETROutput]

    public init(logits: Tensor, boxes: Tensor, aux: [DETROutput] = []) {
        self.logits = logits
        self.boxes = boxes
        self.aux = aux
    }
}
