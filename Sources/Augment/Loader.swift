import Base
import Datasets
import Foundation
import Tensor

/// Settings of a `DataLoader`.
public struct LoaderOptions: Sendable {
    public var batchSize: Int
    /// A new permutation every epoch, drawn from `seed` and the epoch number.
    public var shuffle: Bool
    /// Leave out the last batch when it would be smaller than `batchSize`.
    public var dropLast: Bool
    /// Threads that decode and augment; 0 does the work on the calling thread.
    public var workers: Int
    /// Batches that may be ready or in progress ahead of the consumer (the bounded queue);
    /// nil: twice the number of workers.
    public var prefetchBatches: Int?
    /// Skip samples that fail to load (counted in `LoaderEpoch.skipped`) instead of throwing.
    public var lenient: Bool
    public var seed: UInt64
    /// Pad batches to a multiple of this (1: no extra padding).
    public var padToMultipleOf: Int
    public var normalization: Normalization
    /// Data-parallel training: every batch's positions are cut into `shardCount` consecutive
    /// parts and this loader serves part `shardIndex` (the same global order, seeds and
    /// augmentations as one loader of the whole batch). 0 of 1: the whole batch.
    public var shardIndex = 0
    public var shardCount = 1

    public init(batchSize: Int = 2, shuffle: Bool = true, dropLast: Bool = false, workers: Int = 0,
                prefetchBatches: Int? = nil, lenient: Bool = false, seed: UInt64 = 42, padToMultipleOf: Int = 1,
                normalization: Normalization = .imageNet) {
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.dropLast = dropLast
        self.workers = workers
        self.prefetchBatches = prefetchBatches
        self.lenient = lenient
        self.seed = seed
        self.padToMultipleOf = padToMultipleOf
        self.normalization = normalization
    }
}

/// A batch: the padded images with their mask, and the targets beside them (in batch order).
public struct Batch: Sendable {
    public var images: NestedTensor
    public var targets: [ModelTarget]
    public var paths: [String]
    /// Data-set indices of the samples.
    public var indices: [Int]
    /// The position in the global batch of the first sample (a shard's start; 0 otherwise).
    public var offset = 0
    /// Per image `[n_i, Hmax, Wmax]` instance masks (0 or 1) aligned with `targets[i]`'s
    /// objects, zero in the padding; nil when the data set carries no masks.
    public var masks: [Tensor]?

    /// The batch zero-padded further to `height` x `width` (images, their padding mask and the
    /// instance masks), as a data-parallel shard pads to the whole batch's shape.
    public func padded(toHeight height: Int, width: Int) -> Batch {
        var out = self
        out.images = images.padded(toHeight: height, width: width)
        let h = out.images.mask.shape[1], w = out.images.mask.shape[2]
        out.masks = masks?.map { m in
            let n = m.shape[0], mh = m.shape[1], mw = m.shape[2]
            if mh == h && mw == w { return m }
            let t = Tensor.zeros([n, h, w])
            for plane in 0..<n {
                for y in 0..<mh { (t.data + (plane * h + y) * w).update(from: m.data + (plane * mh + y) * mw, count: mw) }
            }
            return t
        }
        return out
    }
}

/// A sample that failed (thrown in strict mode, recorded in lenient mode).
public struct LoaderError: Error, CustomStringConvertible {
    public var index: Int
    public var path: String
    public var underlying: any Error

    public var description: String {
        let inner = "\(underlying)"
        return inner.contains(path) ? "sample \(index): \(inner)" : "\(path): sample \(index): \(inner)"
    }
}

/// Invalid loader settings.
public struct LoaderOptionsError: Error, CustomStringConvertible, Equatable {
    public var description: String
}

/// Batches of transformed samples. Sample `p` of an epoch gets its own generator derived from
/// (seed, epoch, p) only, and batches are assembled in order, so the batches are the same
/// whatever the number of workers and however the threads are scheduled.
public final class DataLoader: Sendable {
    public let dataset: any DetectionDataset
    public let transform: any Transform
    public let options: LoaderOptions

    public init(dataset: any DetectionDataset, transform: any Transform, options: LoaderOptions = LoaderOptions()) throws {
        guard options.batchSize > 0 else { throw LoaderOptionsError(description: "batch size must be positive, got \(options.batchSize)") }
        guard options.workers >= 0 else { throw LoaderOptionsError(description: "workers must be 0 or more, got \(options.workers)") }
        guard options.padToMultipleOf > 0 else { throw LoaderOptionsError(description: "padToMultipleOf must be positive") }
        if let p = options.prefetchBatches, p < 1 { throw LoaderOptionsError(description: "prefetchBatches must be at least 1") }
        guard options.shardCount > 0, (0..<options.shardCount).contains(options.shardIndex) else {
            throw LoaderOptionsError(description: "shard \(options.shardIndex) of \(options.shardCount) does not exist")
        }
        guard options.shardCount <= min(options.batchSize, dataset.count) else {
            throw LoaderOptionsError(description: "\(options.shardCount) shards of batches of \(min(options.batchSize, dataset.count)) samples leave some empty")
        }
        let last = dataset.count % options.batchSize
        if !options.dropLast, last > 0, last < options.shardCount {
            throw LoaderOptionsError(description: "\(options.shardCount) shards of the last batch of \(last) samples leave some empty")
        }
        self.dataset = dataset
        self.transform = transform
        self.options = options
    }

    /// Batches per epoch.
    public var batchCount: Int {
        let n = dataset.count, b = options.batchSize
        return options.dropLast ? n / b : (n + b - 1) / b
    }

    static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        var g = SplitMix64(seed: a ^ (b &* 0xD1B5_4A32_D192_ED03))
        _ = g.next()
        return g.next()
    }

    /// The data-set indices of an epoch, in the order they are served.
    public func order(epoch: Int) -> [Int] {
        var idx = Array(0..<dataset.count)
        guard options.shuffle else { return idx }
        var rng = SplitMix64(seed: Self.mix(options.seed, UInt64(bitPattern: Int64(epoch))))
        var i = idx.count - 1
        while i > 0 {
            let j = rng.nextInt(below: i + 1)
            idx.swapAt(i, j)
            i -= 1
        }
        return idx
    }

    /// The generator of the sample at `position` of `epoch`.
    public func generator(epoch: Int, position: Int) -> SplitMix64 {
        let epochKey = Self.mix(options.seed &+ 0x5EED, UInt64(bitPattern: Int64(epoch)))
        return SplitMix64(seed: Self.mix(epochKey, UInt64(position)))
    }

    /// Loads and transforms one sample and drops its empty boxes (normalisation happens when
    /// the batch is assembled, straight into the batch tensor).
    func process(epoch: Int, position: Int, index: Int) -> Result<Sample, LoaderError> {
        do {
            var rng = generator(epoch: epoch, position: position)
            var s = try dataset.sample(at: index)
            s = try transform.apply(s, using: &rng)
            s.target = s.target.droppingEmptyBoxes()
            return .success(s)
        } catch {
            return .failure(LoaderError(index: index, path: dataset.imagePath(at: index), underlying: error))
        }
    }

    /// Starts an epoch: workers begin decoding at once, up to the prefetch bound.
    public func epoch(_ epoch: Int) -> LoaderEpoch {
        LoaderEpoch(loader: self, epoch: epoch)
    }
}

/// One pass over the data: call `next()` until it returns nil. Dropping it (or `cancel()`)
/// stops the workers.
public final class LoaderEpoch {
    let state: EpochState
    /// Samples skipped so far in lenient mode, in batch order.
    public private(set) var skipped: [LoaderError] = []

    init(loader: DataLoader, epoch: Int) {
        state = EpochState(loader: loader, epoch: epoch)
        state.start()
    }

    deinit { state.cancel() }

    /// The next batch, nil at the end of the epoch. Throws the first failing sample of a
    /// batch (strict mode); afterwards the epoch is over.
    public func next() throws -> Batch? {
        while true {
            guard let done = state.take() else { return nil }
            skipped += done.skipped
            if let error = done.error {
                state.cancel()
                throw error
            }
            if let batch = done.batch { return batch }
            // Lenient mode and every sample of this batch failed: go on with the next.
        }
    }

    /// Stops the workers (they finish the sample in hand) and waits for them.
    public func cancel() { state.cancel() }
}

/// What a finished batch slot holds.
struct Collated: @unchecked Sendable {
    var batch: Batch?
    var error: LoaderError?
    var skipped: [LoaderError]
}

/// The state shared by the consumer and the workers, behind one condition variable.
final class EpochState: @unchecked Sendable {
    let loader: DataLoader
    let epoch: Int
    let order: [Int]
    let batchSize: Int
    let batches: Int
    let total: Int
    let prefetch: Int

    let condition = NSCondition()
    let finished = DispatchGroup()
    /// The positions this loader serves (its shard of each batch), in order.
    let owned: [Int]
    var nextPosition = 0
    var consumed = 0
    var cancelled = false
    var slots: [Result<Sample, LoaderError>?]
    var remaining: [Int]
    var ready: [Int: Collated] = [:]

    init(loader: DataLoader, epoch: Int) {
        self.loader = loader
        self.epoch = epoch
        self.order = loader.order(epoch: epoch)
        self.batchSize = loader.options.batchSize
        self.batches = loader.batchCount
        self.total = min(order.count, batches * batchSize)
        self.prefetch = loader.options.prefetchBatches ?? max(2, 2 * loader.options.workers)
        let total = self.total, size = self.batchSize
        let shard = loader.options.shardIndex, shards = loader.options.shardCount
        let shardOf = { (b: Int) -> Range<Int> in
            let lo = b * size, n = min(total, (b + 1) * size) - lo
            return (lo + shard * n / shards)..<(lo + (shard + 1) * n / shards)
        }
        self.shardRanges = (0..<batches).map(shardOf)
        self.owned = shardRanges.flatMap { Array($0) }
        self.slots = Array(repeating: nil, count: total)
        self.remaining = shardRanges.map(\.count)
    }

    /// Each batch's positions that this loader serves.
    let shardRanges: [Range<Int>]

    func start() {
        for _ in 0..<loader.options.workers {
            finished.enter()
            let t = Thread { [self] in
                self.work()
                self.finished.leave()
            }
            t.start()
        }
    }

    func positions(ofBatch b: Int) -> Range<Int> { shardRanges[b] }

    /// A worker: takes positions in order, as long as their batch is within the prefetch bound.
    func work() {
        while true {
            condition.lock()
            while !cancelled && nextPosition < owned.count && owned[nextPosition] / batchSize >= consumed + prefetch {
                condition.wait()
            }
            if cancelled || nextPosition >= owned.count {
                condition.unlock()
                return
            }
            let p = owned[nextPosition]
            nextPosition += 1
            condition.unlock()

            let result = loader.process(epoch: epoch, position: p, index: order[p])

            condition.lock()
            slots[p] = result
            let b = p / batchSize
            remaining[b] -= 1
            var results: [Result<Sample, LoaderError>] = []
            if remaining[b] == 0 {
                results = positions(ofBatch: b).map { slots[$0]! }
                for q in positions(ofBatch: b) { slots[q] = nil }
            }
            condition.unlock()
            if !results.isEmpty {
                let collated = collate(results, batch: b)
                condition.lock()
                ready[b] = collated
                condition.broadcast()
                condition.unlock()
            }
        }
    }

    func collate(_ results: [Result<Sample, LoaderError>], batch b: Int) -> Collated {
        var samples: [Sample] = [], indices: [Int] = [], skipped: [LoaderError] = []
        let first = positions(ofBatch: b).lowerBound
        for (k, r) in results.enumerated() {
            switch r {
            case let .success(s):
                samples.append(s)
                indices.append(order[first + k])
            case let .failure(e):
                if !loader.options.lenient { return Collated(batch: nil, error: e, skipped: []) }
                skipped.append(e)
            }
        }
        if samples.isEmpty { return Collated(batch: nil, error: nil, skipped: skipped) }
        do {
            let norm = loader.options.normalization
            let nested = try NestedTensor.batching(samples.map(\.image), normalization: norm,
                                                   padToMultipleOf: loader.options.padToMultipleOf)
            var batch = Batch(images: nested, targets: samples.map { norm.target($0) }, paths: samples.map(\.path), indices: indices,
                              offset: first - b * batchSize)
            for (i, s) in samples.enumerated() {
                if let m = s.target.masks, m.height != s.image.height || m.width != s.image.width {
                    throw BatchError.badMasks(index: i, reason: "masks of \(m.height)x\(m.width) for an image of \(s.image.height)x\(s.image.width)")
                }
            }
            batch.masks = try NestedTensor.paddedMasks(samples.map(\.target), height: nested.mask.shape[1], width: nested.mask.shape[2])
            return Collated(batch: batch, error: nil, skipped: skipped)
        } catch {
            let first = samples[0]
            return Collated(batch: nil, error: LoaderError(index: indices[0], path: first.path, underlying: error), skipped: skipped)
        }
    }

    /// The next batch in order (waiting for the workers), nil past the end.
    func take() -> Collated? {
        if loader.options.workers == 0 {
            guard consumed < batches, !cancelled else { return nil }
            let b = consumed
            consumed += 1
            let results = positions(ofBatch: b).map { loader.process(epoch: epoch, position: $0, index: order[$0]) }
            return collate(results, batch: b)
        }
        condition.lock()
        defer { condition.unlock() }
        guard consumed < batches, !cancelled else { return nil }
        while ready[consumed] == nil && !cancelled { condition.wait() }
        guard let done = ready.removeValue(forKey: consumed) else { return nil }
        consumed += 1
        condition.broadcast()
        return done
    }

    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
        finished.wait()
    }
}
