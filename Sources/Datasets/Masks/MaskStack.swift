/// Binary instance masks of one image, stacked: `count` masks of `height x width`, one byte
/// (0 or 1) a pixel, row-major, mask after mask (`[count][height][width]`).
public struct MaskStack: Equatable, Sendable {
    public let count: Int
    public let height: Int
    public let width: Int
    public var values: [UInt8]

    public init(count: Int, height: Int, width: Int, values: [UInt8]) {
        precondition(values.count == count * height * width, "MaskStack: \(values.count) values for \(count)x\(height)x\(width)")
        self.count = count
        self.height = height
        self.width = width
        self.values = values
    }

    public init(count: Int, height: Int, width: Int) {
        self.init(count: count, height: height, width: width, values: [UInt8](repeating: 0, count: count * height * width))
    }

    public subscript(mask: Int, x: Int, y: Int) -> UInt8 {
        get { values[(mask * height + y) * width + x] }
        set { values[(mask * height + y) * width + x] = newValue }
    }

    /// The masks whose index is in `keep` (in that order).
    public func selecting(_ keep: [Int]) -> MaskStack {
        let plane = height * width
        var out = [UInt8]()
        out.reserveCapacity(keep.count * plane)
        for k in keep { out.append(contentsOf: values[(k * plane)..<((k + 1) * plane)]) }
        return MaskStack(count: keep.count, height: height, width: width, values: out)
    }
}
