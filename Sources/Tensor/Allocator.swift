import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The caching allocator behind every tensor buffer.
///
/// glibc serves blocks above its mmap threshold with mmap and returns them with munmap, so a
/// training loop that frees and re-creates the same large activations on every iteration pays
/// for page faults on every call (NOTES-swift-linux.md: PyTorch's CPU conv1 drops from 125 to
/// 49 ms without that churn). Freed buffers are kept here in free lists keyed by their rounded
/// size and handed out again; iterations of a training loop allocate the same sizes, so after
/// the first iteration nearly every request is a cache hit.
///
/// A miss is served from a cached buffer of a larger size class when one at most half as large
/// again is there. With `holdsAtMostPeak`, what the process holds never exceeds what it once
/// needed at the same time: on a miss, when the live bytes plus the cached bytes would pass the
/// peak of the live bytes so far, cached buffers are released (the sizes least recently used
/// first) until they fit. A loop over images of varied sizes (predict over a folder) so keeps
/// at most the footprint of its largest image, where a cache bounded only by a fixed limit
/// keeps buffers of every size it met.
///
/// Buffers are 64-byte aligned. Sizes are rounded up to 64 bytes below 1 MiB and to one of
/// eight classes per power of two above; those from 1 MiB up are mapped pages of their own
/// (mmap), so releasing one returns its memory to the system at once (glibc would keep blocks
/// below its dynamic 32 MB threshold in its heap). The cache also holds at most
/// `cacheLimitBytes`. This and the thread setting are the engine's only global state.
public enum Allocator {
    struct State {
        var free: [Int: [UInt]] = [:]  // pointers as bit patterns
        /// The sizes of `free` with buffers, ascending.
        var sizes: [Int] = []
        /// Buffers handed out from a larger size class than their request's, with that size.
        var larger: [UInt: Int] = [:]
        /// Per size in `free`, the tick (count of cache operations) of its last use.
        var used: [Int: Int] = [:]
        var tick = 0
        var cachedBytes = 0
        var liveBytes = 0
        var peakLiveBytes = 0
        var hits = 0
        var misses = 0
        var releasedBytes = 0
        var cacheLimit = 4 << 30
        var holdAtMostPeak = false
    }

    static let state = Mutex(State())

    /// Sizes from this one up are mapped pages of their own.
    static let mappedSize = 64 << 10

    /// Rounds a byte count up to the allocator's size classes: multiples of 64 bytes below
    /// 1 MiB, eight classes per power of two above (at most 12.5% slack), so that tensors of
    /// nearby sizes (batches padded to different sizes) share buffers.
    @inline(__always)
    static func roundedSize(_ bytes: Int) -> Int {
        if bytes <= 0 { return 64 }
        if bytes < (1 << 20) { return (bytes + 63) & ~63 }
        let octave = 1 << (Int.bitWidth - 1 - bytes.leadingZeroBitCount)
        let step = octave / 8
        return (bytes + step - 1) / step * step
    }

    /// A buffer of at least `bytes` bytes (contents undefined).
    public static func allocate(bytes: Int) -> UnsafeMutableRawPointer {
        let size = roundedSize(bytes)
        let (cached, release): (UInt?, [(UInt, Int)]) = state.withLock { s in
            if let (p, got) = s.take(size) {
                s.liveBytes += got
                s.peakLiveBytes = max(s.peakLiveBytes, s.liveBytes)
                s.hits += 1
                if got != size { s.larger[p] = got }
                return (p, [])
            }
            s.liveBytes += size
            s.peakLiveBytes = max(s.peakLiveBytes, s.liveBytes)
            s.misses += 1
            return (nil, s.holdAtMostPeak ? s.trim(toHold: s.peakLiveBytes) : [])
        }
        for (bits, bytes) in release { systemFree(UnsafeMutableRawPointer(bitPattern: bits)!, size: bytes) }
        if let cached, let p = UnsafeMutableRawPointer(bitPattern: cached) { return p }
        if let p = systemAllocate(size) { return p }
        // Out of memory: release the cache and try once more before giving up.
        emptyCache()
        guard let p = systemAllocate(size) else { fatalError("Tensor allocator: out of memory allocating \(size) bytes") }
        return p
    }

    /// Returns a buffer obtained from `allocate(bytes:)` with the same `bytes`.
    public static func deallocate(_ p: UnsafeMutableRawPointer, bytes: Int) {
        let bits = UInt(bitPattern: p)
        let (release, size): (Bool, Int) = state.withLock { s in
            let size = s.larger.isEmpty ? roundedSize(bytes) : (s.larger.removeValue(forKey: bits) ?? roundedSize(bytes))
            s.liveBytes -= size
            if s.cachedBytes + size > s.cacheLimit {
                s.releasedBytes += size
                return (true, size)
            }
            s.put(bits, size)
            return (false, size)
        }
        if release { systemFree(p, size: size) }
    }

    /// Frees every cached buffer.
    public static func emptyCache() {
        let lists: [Int: [UInt]] = state.withLock { s in
            let l = s.free
            s.free = [:]
            s.sizes = []
            s.used = [:]
            s.releasedBytes += s.cachedBytes
            s.cachedBytes = 0
            return l
        }
        for (size, list) in lists { for bits in list { systemFree(UnsafeMutableRawPointer(bitPattern: bits)!, size: size) } }
    }

    /// Whether the live and cached bytes together stay within the peak of the live bytes (see
    /// the type's notes; default false: the cache is bounded by `cacheLimitBytes` alone).
    ///
    /// For inference over images of varied sizes (predict over a folder, get-map on a model),
    /// where each new size needs buffers no earlier image left; not for training, which comes
    /// back to the same few padded batch shapes: measured on the demo's recipe (2 epochs, 2
    /// cores) the bound cost 3.7 M page faults (against 0.14 M) and about 10 s of system time
    /// to save 50 MB, where over the 200 photos of the raccoon set predict peaks at 0.69 GB with
    /// it and 1.87 GB without.
    public static var holdsAtMostPeak: Bool {
        get { state.withLock { $0.holdAtMostPeak } }
        set { state.withLock { $0.holdAtMostPeak = newValue } }
    }

    /// Upper bound of the bytes kept in the cache (default 4 GiB).
    public static var cacheLimitBytes: Int {
        get { state.withLock { $0.cacheLimit } }
        set {
            state.withLock { $0.cacheLimit = max(0, newValue) }
            emptyCache()
        }
    }

    public struct Statistics: Sendable {
        public var liveBytes: Int
        public var peakLiveBytes: Int
        public var cachedBytes: Int
        public var hits: Int
        public var misses: Int
        /// Bytes of cached buffers given back to the system so far.
        public var releasedBytes: Int
    }

    public static var statistics: Statistics {
        state.withLock {
            Statistics(liveBytes: $0.liveBytes, peakLiveBytes: $0.peakLiveBytes, cachedBytes: $0.cachedBytes, hits: $0.hits,
                       misses: $0.misses, releasedBytes: $0.releasedBytes)
        }
    }

    static func systemAllocate(_ size: Int) -> UnsafeMutableRawPointer? {
        if size >= mappedSize {
            let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            return p == MAP_FAILED ? nil : p
        }
        var p: UnsafeMutableRawPointer? = nil
        return posix_memalign(&p, 64, size) == 0 ? p : nil
    }

    static func systemFree(_ p: UnsafeMutableRawPointer, size: Int) {
        if size >= mappedSize { munmap(p, size) } else { free(p) }
    }
}

extension Allocator.State {
    /// A cached buffer for a request of `size` bytes: one of that size, or else the smallest
    /// cached one at most half as large again (a folder of images of varied sizes then reuses the
    /// last image's buffers instead of mapping new ones).
    mutating func take(_ size: Int) -> (UInt, Int)? {
        var lo = 0, hi = sizes.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if sizes[mid] < size { lo = mid + 1 } else { hi = mid }
        }
        guard lo < sizes.count, sizes[lo] <= size + size / 2 else { return nil }
        let got = sizes[lo]
        tick += 1
        used[got] = tick
        var list = free[got]!
        let p = list.removeLast()
        if list.isEmpty {
            free[got] = nil
            used[got] = nil
            sizes.remove(at: lo)
        } else {
            free[got] = list
        }
        cachedBytes -= got
        return (p, got)
    }

    /// Caches a free buffer of `size` bytes.
    mutating func put(_ p: UInt, _ size: Int) {
        if free[size] == nil {
            var lo = 0, hi = sizes.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if sizes[mid] < size { lo = mid + 1 } else { hi = mid }
            }
            sizes.insert(size, at: lo)
        }
        free[size, default: []].append(p)
        cachedBytes += size
        tick += 1
        used[size] = tick
    }

    /// Takes cached buffers out of the cache, those of the sizes least recently used first (what
    /// the last image or step needed stays), until the live and cached bytes together are at
    /// most `bytes`; returns them (pointer, size) to be freed.
    mutating func trim(toHold bytes: Int) -> [(UInt, Int)] {
        var excess = liveBytes + cachedBytes - bytes
        guard excess > 0 else { return [] }
        var out: [(UInt, Int)] = []
        for size in sizes.sorted(by: { used[$0, default: 0] < used[$1, default: 0] }) {
            var list = free[size]!
            while excess > 0, let p = list.popLast() {
                out.append((p, size))
                excess -= size
                cachedBytes -= size
                releasedBytes += size
            }
            free[size] = list.isEmpty ? nil : list
            if list.isEmpty { used[size] = nil }
            if excess <= 0 { break }
        }
        sizes.removeAll { free[$0] == nil }
        return out
    }
}
/// A reference-counted Float32 buffer from the caching allocator.
public final class Storage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    public init(count: Int) {
        self.count = count
        pointer = Allocator.allocate(bytes: max(1, count) * MemoryLayout<Float>.stride).bindMemory(to: Float.self, capacity: max(1, count))
    }

    /// A zero-filled buffer.
    public convenience init(zeros count: Int) {
        self.init(count: count)
        pointer.initialize(repeating: 0, count: count)
    }

    deinit {
        Allocator.deallocate(UnsafeMutableRawPointer(pointer), bytes: max(1, count) * MemoryLayout<Float>.stride)
    }
}
