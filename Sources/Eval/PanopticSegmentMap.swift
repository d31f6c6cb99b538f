import Datasets

extension PanopticQuality {
    /// Segment-id PNG of one image, decoded (the data side's reader).
    public typealias SegmentMap = PanopticSegmentMap
}
