@testable import Tensor
import XCTest

/// The caching allocator's bookkeeping (`Allocator.State`), driven as `allocate` and
/// `deallocate` drive it, with pointers as plain numbers (nothing is mapped).
final class AllocatorPolicyTests: XCTestCase {
    /// Pretends to allocate: a hit from the cache, or a fresh "pointer" after trimming as
    /// `allocate` does; returns the pointer, its size, and what was released.
    func allocate(_ s: inout Allocator.State, _ bytes: Int, next: inout UInt) -> (UInt, Int, [(UInt, Int)]) {
        let size = Allocator.roundedSize(bytes)
        if let (p, got) = s.take(size) {
            s.liveBytes += got
            s.peakLiveBytes = max(s.peakLiveBytes, s.liveBytes)
            return (p, got, [])
        }
        s.liveBytes += size
        s.peakLiveBytes = max(s.peakLiveBytes, s.liveBytes)
        let released = s.holdAtMostPeak ? s.trim(toHold: s.peakLiveBytes) : []
        next += 1
        return (next, size, released)
    }

    func free(_ s: inout Allocator.State, _ p: UInt, _ size: Int) {
        s.liveBytes -= size
        s.put(p, size)
    }

    /// "Images" of growing then varied sizes, each allocating and freeing a few buffers of
    /// sizes proportional to its area: with the bound, live + cached never passes the peak
    /// of live bytes; without it, the cache keeps buffers of every size it met.
    func run(bounded: Bool) -> (maxHeld: Int, peak: Int, released: Int) {
        var s = Allocator.State()
        s.holdAtMostPeak = bounded
        var next: UInt = 0
        var maxHeld = 0, released = 0
        let areas = [100, 400, 90, 1000, 250, 700, 130, 999, 333, 50, 640, 800]
        for area in areas {
            var live: [(UInt, Int)] = []
            for factor in [64, 256, 256, 1024] {
                let (p, size, out) = allocate(&s, area * factor * 37, next: &next)
                released += out.reduce(0) { $0 + $1.1 }
                live.append((p, size))
                maxHeld = max(maxHeld, s.liveBytes + s.cachedBytes)
            }
            for (p, size) in live { free(&s, p, size) }
            maxHeld = max(maxHeld, s.liveBytes + s.cachedBytes)
        }
        XCTAssertEqual(s.liveBytes, 0)
        XCTAssertEqual(s.cachedBytes, s.free.reduce(0) { $0 + $1.key * $1.value.count })
        XCTAssertEqual(s.sizes, s.free.keys.sorted())
        return (maxHeld, s.peakLiveBytes, released)
    }

    func testHoldAtMostPeakBoundsLiveAndCachedByThePeakOfLiveBytes() {
        let bounded = run(bounded: true)
        XCTAssertLessThanOrEqual(bounded.maxHeld, bounded.peak)
        XCTAssertGreaterThan(bounded.released, 0)
        let unbounded = run(bounded: false)
        XCTAssertEqual(unbounded.released, 0)
        XCTAssertGreaterThan(unbounded.maxHeld, unbounded.peak * 3 / 2, "without the bound the cache keeps every size")
    }

    func testBestFitTakesTheSmallestCachedSizeAtMostHalfAsLargeAgain() {
        var s = Allocator.State()
        for (p, size) in [(UInt(1), 4 << 20), (2, 5 << 20), (3, 8 << 20)] { s.put(p, size) }
        // 3.8 MB rounds to 3.75 MiB: the 4 MiB buffer is the smallest that fits.
        XCTAssertEqual(Allocator.roundedSize(3_800_000), 3_932_160)
        XCTAssertEqual(s.take(Allocator.roundedSize(3_800_000))?.0, 1)
        // 3 MiB: the smallest left above it is 5 MiB, more than 1.5x: a miss.
        XCTAssertNil(s.take(Allocator.roundedSize(3 << 20)))
        XCTAssertEqual(s.take(Allocator.roundedSize(6 << 20))?.0, 3)
        XCTAssertEqual(s.sizes, [5 << 20])
        XCTAssertEqual(s.cachedBytes, 5 << 20)
    }

    func testTrimReleasesTheLeastRecentlyUsedSizesFirst() {
        var s = Allocator.State()
        s.put(1, 2 << 20)  // oldest
        s.put(2, 1 << 20)
        s.put(3, 2 << 20)  // the 2 MiB size is used again: now the most recent
        s.liveBytes = 1 << 20
        let out = s.trim(toHold: 5 << 20)
        XCTAssertEqual(out.map(\.0), [2], "the 1 MiB size was used least recently (not the largest)")
        XCTAssertEqual(s.cachedBytes, 4 << 20)
        XCTAssertEqual(s.sizes, [2 << 20])
    }
}
