#if canImport(Glibc)
import Glibc
#endif

/// Process-level settings the engine needs before any library starts its threads.
public enum ProcessSetup {
    /// oneDNN (Debian's build) runs on libgomp, whose idle workers spin for a while after every
    /// parallel region. On a 2-core machine they take the cores away from the engine's own
    /// threads and OpenBLAS's: DETR-R50 inference measured 4.9 s with the default policy and
    /// 2.5 s with OMP_WAIT_POLICY=PASSIVE. libgomp reads the variable once, when it is loaded
    /// (at process start), so a tool that finds it unset sets it and re-executes itself.
    /// Call first thing in `main`, before any tensor work. A user's own setting is kept.
    public static func preferPassiveOpenMPThreads() {
        guard getenv("OMP_WAIT_POLICY") == nil else { return }
        setenv("OMP_WAIT_POLICY", "PASSIVE", 1)
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return }  // cannot re-execute: run on with the default policy
        let path = String(decoding: buf.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var args: [UnsafeMutablePointer<CChar>?] = CommandLine.arguments.map { strdup($0) }
        args.append(nil)
        execv(path, &args)
        // execv returns only on failure: continue in this process.
        for a in args { free(a) }
    }
}
