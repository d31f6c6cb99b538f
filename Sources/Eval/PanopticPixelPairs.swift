import Datasets

// Counting the (ground-truth id, predicted id) pairs of an image's pixels.

extension PanopticQuality {
    /// Pixel counts of (ground-truth id, predicted id) pairs of one image.
    struct PixelPairs {
        private(set) var counts: [UInt64: Int] = [:]
        /// Pixels per predicted id.
        private(set) var predictedArea: [UInt32: Int] = [:]

        /// Counts the pairs of two whole maps.
        init(groundTruth g: UnsafeBufferPointer<UInt32>, prediction p: UnsafeBufferPointer<UInt32>) {
            var table = RunTable()
            defer { table.free() }
            if let gb = g.baseAddress, let pb = p.baseAddress {
                Self.add(groundTruth: gb, prediction: pb, count: min(g.count, p.count), to: &table)
            }
            self.init(table)
        }

        /// The pairs counted in `table`.
        init(_ table: RunTable) {
            let counts = table.dictionary()
            for (key, c) in counts { predictedArea[UInt32(truncatingIfNeeded: key), default: 0] += c }
            self.counts = counts
        }

        /// Counts the pairs of `n` pixels into `table`, a run of equal pairs at a time (a run
        /// cut in two, as at the end of a row, counts the same).
        static func add(groundTruth gb: UnsafePointer<UInt32>, prediction pb: UnsafePointer<UInt32>, count n: Int,
                        to table: inout RunTable) {
            var i = 0
            while i < n {
                let a = gb[i], b = pb[i]
                var j = i + 1
                // Four pixels at a time while both maps keep their values (segment maps are
                // mostly long runs), then one at a time.
                let a4 = SIMD4<UInt32>(repeating: a), b4 = SIMD4<UInt32>(repeating: b)
                while j + 4 <= n {
                    let gv = UnsafeRawPointer(gb + j).loadUnaligned(as: SIMD4<UInt32>.self)
                    let pv = UnsafeRawPointer(pb + j).loadUnaligned(as: SIMD4<UInt32>.self)
                    if ((gv ^ a4) | (pv ^ b4)) != SIMD4<UInt32>() { break }
                    j += 4
                }
                while j < n && gb[j] == a && pb[j] == b { j += 1 }
                table.add(UInt64(a) << 32 | UInt64(b), j - i)
                i = j
            }
        }

        static func key(_ gt: Int, _ pred: Int) -> UInt64? {
            guard (0...Int(UInt32.max)).contains(gt), (0...Int(UInt32.max)).contains(pred) else { return nil }
            return UInt64(gt) << 32 | UInt64(pred)
        }

        /// Pixels where the ground truth has `gt` and the prediction `pred` (ids as the JSON
        /// writes them; ids no PNG can hold have no pixels).
        func count(_ gt: Int, _ pred: Int) -> Int {
            Self.key(gt, pred).flatMap { counts[$0] } ?? 0
        }

        func area(_ pred: Int) -> Int {
            guard (0...Int(UInt32.max)).contains(pred) else { return 0 }
            return predictedArea[UInt32(pred)] ?? 0
        }
    }

    /// Counts per (gt, pred) key while scanning: an open-addressing table with a multiplicative
    /// hash (a run of pixels costs a Dictionary update with SipHash otherwise, which was most of
    /// an image's matching time). Keys never equal UInt64.max (ids have 32 bits each and PNG ids
    /// at most 24).
    struct RunTable {
        private var keys: UnsafeMutablePointer<UInt64>
        private var values: UnsafeMutablePointer<Int>
        private var bits = 8
        private var used = 0
        private static let empty = UInt64.max

        init() {
            keys = .allocate(capacity: 1 << bits)
            keys.initialize(repeating: Self.empty, count: 1 << bits)
            values = .allocate(capacity: 1 << bits)
        }

        mutating func add(_ key: UInt64, _ n: Int) {
            let mask = (1 << bits) - 1
            var slot = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> UInt64(64 - bits))
            while true {
                let k = keys[slot]
                if k == key {
                    values[slot] += n
                    return
                }
                if k == Self.empty { break }
                slot = (slot + 1) & mask
            }
            keys[slot] = key
            values[slot] = n
            used += 1
            if 2 * used > (1 << bits) { grow() }
        }

        private mutating func grow() {
            let oldKeys = keys, oldValues = values, oldSize = 1 << bits
            bits += 1
            keys = .allocate(capacity: 1 << bits)
            keys.initialize(repeating: Self.empty, count: 1 << bits)
            values = .allocate(capacity: 1 << bits)
            used = 0
            for i in 0..<oldSize where oldKeys[i] != Self.empty { add(oldKeys[i], oldValues[i]) }
            oldKeys.deallocate()
            oldValues.deallocate()
        }

        func dictionary() -> [UInt64: Int] {
            var d = [UInt64: Int](minimumCapacity: used)
            for i in 0..<(1 << bits) where keys[i] != Self.empty { d[keys[i]] = values[i] }
            return d
        }

        func free() {
            keys.deallocate()
            values.deallocate()
        }
    }

    /// A worker's row-wise decoding of an image's two PNGs, counting pixel pairs a row at a
    /// time: the maps are never held whole (two megabyte-sized id buffers per image were a
    /// noticeable part of an evaluation's time, the L2 cache being about that size).
    struct RowPairReader {
        private let gtReader = PNGSegmentRowReader(), predReader = PNGSegmentRowReader()
        private var keys = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
        private var lengths = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
        private var capacity = 1

        /// The pixel pairs of the two PNGs, or nil when the fast path does not take both files,
        /// finds one irregular, or their sizes differ (decode them whole then).
        mutating func count(groundTruth: [UInt8], prediction: [UInt8]) -> PixelPairs? {
            groundTruth.withUnsafeBufferPointer { g in
                prediction.withUnsafeBufferPointer { p in
                    guard let gs = gtReader.begin(g), let ps = predReader.begin(p), gs == ps else { return nil }
                    if gs.width > capacity {
                        free()
                        keys = .allocate(capacity: gs.width)
                        lengths = .allocate(capacity: gs.width)
                        capacity = gs.width
                    }
                    var table = RunTable()
                    defer { table.free() }
                    for _ in 0..<gs.height {
                        guard let n = gtReader.nextRowRuns(with: predReader, keys: keys, lengths: lengths) else { return nil }
                        for i in 0..<n { table.add(keys[i], Int(lengths[i])) }
                    }
                    return PixelPairs(table)
                }
            }
        }

        func free() {
            keys.deallocate()
            lengths.deallocate()
        }
    }
}
