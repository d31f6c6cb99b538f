import Augment
import Dispatch
import Tensor

/// What a training step of a data-parallel run adds to a single process's: each process pads
/// its share of the batch to the global batch's shape, the logged losses and sample counts are
/// summed over the processes, and so are the gradients, in large buckets (not one call per
/// tensor) before clipping and the optimizer step.
final class DataParallelSteps {
    let world: ProcessWorld
    /// Floats per allreduce (16 MiB); a larger tensor goes alone.
    let bucketSize: Int
    /// Time spent summing gradients (copies and allreduce, once every process is there) and
    /// the bytes summed, so far; and the time spent waiting for the slowest process first.
    private(set) var allreduceSeconds = 0.0
    private(set) var allreduceBytes = 0
    private(set) var waitSeconds = 0.0

    /// The buffer the buckets are summed in, kept from step to step (fresh pages cost the
    /// allreduce several times its time).
    private var staging: UnsafeMutablePointer<Float>?
    private var stagingCapacity = 0

    init(world: ProcessWorld, bucketSize: Int = 1 << 22) {
        self.world = world
        self.bucketSize = bucketSize
    }

    deinit { staging?.deallocate() }

    /// The share padded to the height and width of the largest share (the global batch's
    /// shape): images, padding mask and target masks.
    func paddedToGlobalShape(_ batch: Batch) -> Batch {
        var shape = [Double(batch.images.tensors.shape[2]), Double(batch.images.tensors.shape[3])]
        world.max(&shape)
        return batch.padded(toHeight: Int(shape[0]), width: Int(shape[1]))
    }

    /// Whether `flag` holds on every process.
    func all(_ flag: Bool) -> Bool {
        var failures = [flag ? 0.0 : 1.0]
        world.sum(&failures)
        return failures[0] == 0
    }

    /// The batch's loss values (each process holds its share's, with the global normalisers:
    /// they add up) and its sample count, over every process.
    func batchTotals(_ values: [Double], count: Int) -> (values: [Double], count: Int) {
        var v = values + [Double(count)]
        world.sum(&v)
        return (Array(v.dropLast()), Int(v.last!))
    }

    /// Sums the gradients over the processes. A parameter without a gradient on every process
    /// keeps none; one with a gradient on some gets zeros where it has none, then the sum.
    func sumGradients(_ params: [Tensor]) {
        // The first (small) sum waits for every process: the time of the slowest step.
        let arrived = DispatchTime.now().uptimeNanoseconds
        var present = params.map { $0.grad == nil ? 0.0 : 1.0 }
        world.sum(&present)
        let start = DispatchTime.now().uptimeNanoseconds
        waitSeconds += Double(start - arrived) / 1e9
        defer { allreduceSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        var buckets: [[Tensor]] = [[]]
        var filled = 0
        for (p, n) in zip(params, present) where n > 0 {
            if p.grad == nil { p.grad = Tensor.zeros(p.shape) }
            if filled > 0 && filled + p.count > bucketSize {
                buckets.append([])
                filled = 0
            }
            buckets[buckets.count - 1].append(p)
            filled += p.count
        }
        let largest = buckets.map { $0.reduce(0) { $0 + $1.count } }.max() ?? 0
        guard largest > 0 else { return }
        // Through one staging buffer: gradients may share storage (a reshape).
        if stagingCapacity < largest {
            staging?.deallocate()
            staging = UnsafeMutablePointer<Float>.allocate(capacity: largest)
            stagingCapacity = largest
        }
        let staging = self.staging!
        for bucket in buckets where !bucket.isEmpty {
            var offset = 0
            for p in bucket {
                (staging + offset).update(from: p.grad!.data, count: p.count)
                offset += p.count
            }
            world.sum(staging, count: offset)
            allreduceBytes += 4 * offset
            offset = 0
            for p in bucket {
                p.grad!.data.update(from: staging + offset, count: p.count)
                offset += p.count
            }
        }
    }
}
