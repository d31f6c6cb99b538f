import Datasets

// The evaluation's workers and their reusable buffers.

extension COCOEvaluator {
    /// Workers of an evaluation: `threads`, or all cores when it is 0 or less.
    static func workerCount(_ threads: Int) -> Int {
        if threads > 0 { return threads }
        return max(1, Int(sysconfCores()))
    }

    /// A growable raw buffer (per worker; no allocation per detection or per bucket).
    struct RawBuffer<T> {
        private var pointer: UnsafeMutablePointer<T>?
        private var capacity = 0

        /// At least `n` elements (contents undefined).
        mutating func get(_ n: Int) -> UnsafeMutablePointer<T> {
            if n > capacity || pointer == nil {
                pointer?.deallocate()
                capacity = Swift.max(n, capacity * 2, 64)
                pointer = .allocate(capacity: capacity)
            }
            return pointer!
        }

        func free() { pointer?.deallocate() }
    }

    /// Reusable per-worker buffers.
    final class BucketScratch {
        var ious = RawBuffer<Double>()
        var sortedIoUs = RawBuffer<Double>()
        var order = RawBuffer<Int>()
        var ignored = RawBuffer<Bool>()
        var crowd = RawBuffer<Bool>()
        var idZero = RawBuffer<Bool>()
        var taken = RawBuffer<Bool>()
        var dtArea = RawBuffer<Double>()
        var dtBox = RawBuffer<COCOBox>()
        var outside = RawBuffer<Bool>()
        var gtMasks: [RLE] = []
        var dtMasks: [RLE] = []
        var gtMaskBoxes: [COCOBox] = []
        var dtMaskBoxes: [COCOBox] = []

        deinit {
            ious.free(); sortedIoUs.free(); order.free(); ignored.free(); crowd.free(); idZero.free()
            taken.free(); dtArea.free(); dtBox.free(); outside.free()
        }
    }
}

#if canImport(Glibc)
import Glibc
func sysconfCores() -> Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }
#elseif canImport(Darwin)
import Darwin
func sysconfCores() -> Int { Int(sysconf(_SC_NPROCESSORS_ONLN)) }
#else
func sysconfCores() -> Int { 1 }
#endif
