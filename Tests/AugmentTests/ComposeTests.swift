import Augment
import Base
import Datasets
import Tensor
import XCTest

final class ComposeTests: XCTestCase {
    func testRandomSelect_AndCompose_FollowTheDraws() throws {
        let s = patternSample(width: 20, height: 10, boxes: [Box(1, 1, 9, 9)])
        var rng = SplitMix64(seed: 1)
        let small = Resize(width: 10, height: 5), big = Resize(width: 40, height: 20)
        XCTAssertEqual(try RandomSelect(small, big, p: 1).apply(s, using: &rng).image.width, 10)
        XCTAssertEqual(try RandomSelect(small, big, p: 0).apply(s, using: &rng).image.width, 40)
        let both = try Compose([big, RandomHorizontalFlip(p: 1)]).apply(s, using: &rng)
        XCTAssertEqual(both.target.boxes, [Box(22, 2, 38, 18)])
        // The same generator state gives the same choice.
        let t = Preset.detr.train()
        var a = SplitMix64(seed: 77), b = SplitMix64(seed: 77)
        XCTAssertEqual(try t.apply(s, using: &a), try t.apply(s, using: &b))
    }
}
