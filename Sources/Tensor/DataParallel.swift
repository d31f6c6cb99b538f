/// The collective operation of a data-parallel run, for the operations that couple the samples
/// of a batch (batch norm in training): each process holds a part of the global batch, and
/// `sum` adds a vector over every process. The trainer sets it when it runs under MPI; nil
/// (the default) is a single process, and nothing changes.
public enum DataParallel {
    /// Sums `values` element-wise over every process of the run, in place. Every process calls
    /// it the same number of times in the same order, with vectors of the same length.
    nonisolated(unsafe) public static var sum: ((inout [Double]) -> Void)?
}
