import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The engine's thread setting (default: all cores) and its parallel loops.
public enum Threads {
    static let setting = Atomic<Int>(0)

    /// Threads used by the engine's own loops (and passed on to OpenBLAS and oneDNN).
    public static var count: Int {
        get {
            let n = setting.load(ordering: .relaxed)
            return n > 0 ? n : cores
        }
        set {
            setting.store(max(1, newValue), ordering: .relaxed)
            OpenMP.setThreads(max(1, newValue))
        }
    }

    public static let cores: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    /// Runs `body(range)` over `0..<n` split into contiguous chunks, in parallel when the work
    /// (`n * costPerItem`) is large enough to pay for the threads.
    @inline(__always)
    public static func parallelFor(_ n: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
        let threads = count
        if threads <= 1 || n < 2 || n * costPerItem < 32_768 {
            body(0..<n)
            return
        }
        let chunks = min(threads, n)
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let b = body
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let lo = n * c / chunks, hi = n * (c + 1) / chunks
                if lo < hi { b(lo..<hi) }
            }
        }
    }
}

/// oneDNN (Debian's build) runs on OpenMP: its thread count follows `Threads.count` through
/// libgomp's omp_set_num_threads, looked up at run time (no link-time dependency on libgomp).
enum OpenMP {
    typealias SetThreads = @convention(c) (Int32) -> Void

    static let setter: SetThreads? = {
        guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "omp_set_num_threads") else { return nil }
        return unsafeBitCast(sym, to: SetThreads.self)
    }()

    static func setThreads(_ n: Int) {
        setter?(Int32(n))
    }
}
