import CMPIShim
import Foundation
import Tensor

/// The processes of a data-parallel run started by Open MPI's `mpirun`: this one's rank and
/// their number, and the collective operations the trainer needs (sums, maxima, gathers).
/// Open MPI is loaded at run time (`dlopen` of libmpi.so.40 in the CMPIShim target), so the
/// tools link no MPI library and run on machines without it; only a run under `mpirun` loads it.
public final class ProcessWorld: @unchecked Sendable {
    public let rank: Int
    public let size: Int
    public var isMain: Bool { rank == 0 }

    init(rank: Int, size: Int) {
        self.rank = rank
        self.size = size
    }

    /// The run's processes on this host (Open MPI's OMPI_COMM_WORLD_LOCAL_SIZE; else all of them).
    public var processesOnThisHost: Int {
        ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap { Int($0) }.map { Swift.max($0, 1) } ?? size
    }

    /// Whether `mpirun` started this process (Open MPI's or PMIx's environment variables).
    public static var isLaunchedByMPI: Bool {
        let env = ProcessInfo.processInfo.environment
        return env["OMPI_COMM_WORLD_SIZE"] != nil || env["PMIX_RANK"] != nil
    }

    /// The run's processes when `mpirun` started this one (MPI initialised), else nil: a
    /// single process, nothing loaded. Throws when Open MPI cannot be loaded or initialised.
    public static func launched() throws -> ProcessWorld? {
        guard isLaunchedByMPI else { return nil }
        var message = [CChar](repeating: 0, count: 512)
        guard detr_mpi_load(&message, Int32(message.count)) == 0 else {
            throw ProcessWorldError(message: String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        var rank: Int32 = 0, size: Int32 = 0
        let rc = detr_mpi_init(&rank, &size)
        guard rc == 0 else { throw ProcessWorldError(message: "MPI_Init_thread failed (error \(rc))") }
        return ProcessWorld(rank: Int(rank), size: Int(size))
    }

    /// Stops every process of the run: prints `message` naming this rank on stderr, then
    /// MPI_Abort (mpirun ends the others).
    public func abort(_ message: String) -> Never {
        FileHandle.standardError.write(Data("rank \(rank) of \(size): \(message)\n".utf8))
        detr_mpi_abort(1)
        exit(1)
    }

    public func finalize() { _ = detr_mpi_finalize() }

    func check(_ rc: Int32, _ what: String) {
        if rc != 0 { abort("\(what) failed (MPI error \(rc))") }
    }

    /// Element-wise sum over the processes, in place.
    public func sum(_ values: inout [Double]) {
        let n = values.count
        values.withUnsafeMutableBufferPointer { check(detr_mpi_allreduce_double($0.baseAddress, Int64(n), 0), "MPI_Allreduce") }
    }

    /// Element-wise maximum over the processes, in place.
    public func max(_ values: inout [Double]) {
        let n = values.count
        values.withUnsafeMutableBufferPointer { check(detr_mpi_allreduce_double($0.baseAddress, Int64(n), 1), "MPI_Allreduce") }
    }

    /// Element-wise sum of `count` floats over the processes, in place.
    public func sum(_ values: UnsafeMutablePointer<Float>, count: Int) {
        check(detr_mpi_allreduce_float(values, Int64(count), 0), "MPI_Allreduce")
    }

    /// Every process's `values` (of any length), in rank order.
    public func gather(_ values: [Double]) -> [[Double]] {
        // Each rank's count: a sum of one-hot vectors.
        var counts = [Double](repeating: 0, count: size)
        counts[rank] = Double(values.count)
        sum(&counts)
        let sizes = counts.map { Int32($0) }
        var displacements = [Int32](repeating: 0, count: size)
        for r in 1..<size { displacements[r] = displacements[r - 1] + sizes[r - 1] }
        let total = Int(sizes.reduce(0, +))
        var received = [Double](repeating: 0, count: total)
        received.withUnsafeMutableBufferPointer { out in
            values.withUnsafeBufferPointer { send in
                check(detr_mpi_allgatherv_double(send.baseAddress, Int32(values.count), out.baseAddress, sizes, displacements),
                      "MPI_Allgatherv")
            }
        }
        return (0..<size).map { r in Array(received[Int(displacements[r])..<Int(displacements[r] + sizes[r])]) }
    }

    /// Rank `root`'s bytes on every process (the others' `bytes` are replaced; lengths are sent first).
    public func broadcast(_ bytes: [UInt8], from root: Int = 0) -> [UInt8] {
        var length = [rank == root ? Double(bytes.count) : 0]
        sum(&length)
        var buffer = rank == root ? bytes : [UInt8](repeating: 0, count: Int(length[0]))
        let n = buffer.count
        buffer.withUnsafeMutableBytes { check(detr_mpi_bcast_bytes($0.baseAddress, Int64(n), Int32(root)), "MPI_Bcast") }
        return buffer
    }

    /// Makes batch norms in training mode synchronise their statistics over the processes
    /// (`DataParallel.sum`).
    public func synchroniseBatchNorms() {
        DataParallel.sum = { [self] values in sum(&values) }
    }
}

/// Open MPI could not be loaded or started.
public struct ProcessWorldError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
