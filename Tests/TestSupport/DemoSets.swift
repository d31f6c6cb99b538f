import Base
import Datasets
import XCTest

extension XCTestCase {
    /// A small shapes set with segmentation (`demo-data --segmentation`) written into a new
    /// temporary folder.
    public func makeSegmentationDemo(images: Int, minSide: Int, maxSide: Int, seed: UInt64) throws -> DemoData.Summary {
        var options = DemoData.Options()
        options.images = images
        options.minSide = minSide
        options.maxSide = maxSide
        options.segmentation = true
        var rng = SplitMix64(seed: seed)
        return try DemoData.generate(into: try makeTemporaryDirectory(), options: options, using: &rng)
    }
}
