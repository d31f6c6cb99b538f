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
/// Buffers are 64-byte aligned. Sizes are rounded up to 64 bytes below 1 MiB and to one of
/// eight classes per power of two above. The cache holds at most `cacheLimitBytes`; beyond that, freed buffers go back to the
/// system. This and the thread setting are the engine's only global state.
public enum Allocator {
    struct State {
        var free: [Int: [UInt]] = [:]  // pointers as bit patterns
        var cachedBytes = 0
        var liveBytes = 0
        var peakLiveBytes = 0
        var hits = 0
        var misses = 0
        var cacheLimit = 4 << 30
    }

    static let state = Mutex(State())

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
        let cached: UInt? = state.withLock { s in
            s.liveBytes += size
            s.peakLiveBytes = max(s.peakLiveBytes, s.liveBytes)
            if var list = s.free[size], let p = list.popLast() {
                s.free[size] = list
                s.cachedBytes -= size
                s.hits += 1
                return p
            }
            s.misses += 1
            return nil
        }
        if let cached, let p = UnsafeMutableRawPointer(bitPattern: cached) { return p }
        var p: UnsafeMutableRawPointer? = nil
        if posix_memalign(&p, 64, size) != 0 || p == nil {
            // Out of memory: release the cache and try once more before giving up.
            emptyCache()
            if posix_memalign(&p, 64, size) != 0 || p == nil {
                fatalError("Tensor allocator: out of memory allocating \(size) bytes")
            }
        }
        return p!
    }

    /// Returns a buffer obtained from `allocate(bytes:)` with the same `bytes`.
    public static func deallocate(_ p: UnsafeMutableRawPointer, bytes: Int) {
        let size = roundedSize(bytes)
        let bits = UInt(bitPattern: p)
        let release: Bool = state.withLock { s in
            s.liveBytes -= size
            if s.cachedBytes + size > s.cacheLimit { return true }
            s.free[size, default: []].append(bits)
            s.cachedBytes += size
            return false
        }
        if release { free(p) }
    }

    /// Frees every cached buffer.
    public static func emptyCache() {
        let lists: [Int: [UInt]] = state.withLock { s in
            let l = s.free
            s.free = [:]
            s.cachedBytes = 0
            return l
        }
        for (_, list) in lists { for bits in list { free(UnsafeMutableRawPointer(bitPattern: bits)) } }
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
    }

    public static var statistics: Statistics {
        state.withLock { Statistics(liveBytes: $0.liveBytes, peakLiveBytes: $0.peakLiveBytes, cachedBytes: $0.cachedBytes, hits: $0.hits, misses: $0.misses) }
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
