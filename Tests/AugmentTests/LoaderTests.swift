import Augment
import Datasets
import Tensor
import XCTest

final class LoaderTests: XCTestCase {
    /// Every batch of an epoch, as comparable values.
    func collect(_ loader: DataLoader, epoch: Int) throws -> [([Float], [Bool], [ModelTarget], [Int])] {
        let e = loader.epoch(epoch)
        var out: [([Float], [Bool], [ModelTarget], [Int])] = []
        while let b = try e.next() {
            out.append((scalars(b.images.tensors), b.images.mask.values, b.targets, b.indices))
        }
        return out
    }

    func assertSame(_ a: [([Float], [Bool], [ModelTarget], [Int])], _ b: [([Float], [Bool], [ModelTarget], [Int])],
                    _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, message, file: file, line: line)
        for (x, y) in zip(a, b) {
            XCTAssertEqual(x.3, y.3, message, file: file, line: line)
            XCTAssertTrue(x.0 == y.0, "\(message): images differ", file: file, line: line)
            XCTAssertEqual(x.1, y.1, message, file: file, line: line)
            XCTAssertEqual(x.2, y.2, message, file: file, line: line)
        }
    }

    func testOneAndFourWorkers_GiveIdenticalBatches() throws {
        let data = PatternDataset(count: 23)
        var reference: [([Float], [Bool], [ModelTarget], [Int])]? = nil
        for workers in [0, 1, 4] {
            let loader = try DataLoader(dataset: data, transform: Preset.detr.train(),
                                        options: LoaderOptions(batchSize: 3, workers: workers, seed: 99))
            let batches = try collect(loader, epoch: 2)
            XCTAssertEqual(batches.count, 8)
            if let reference { assertSame(batches, reference, "workers \(workers)") } else { reference = batches }
        }
    }

    /// Data-parallel shards: each serves its consecutive part of every batch of the whole
    /// loader (the same samples, augmentations and targets, whatever the workers); padded to
    /// the whole batch's shape, the parts are the whole batch's images and masks.
    func testShards_ServeConsecutivePartsOfTheSameBatches() throws {
        let data = PatternDataset(count: 14)
        let options = LoaderOptions(batchSize: 4, dropLast: true, seed: 5)
        let whole = loaderEpochBatches(try DataLoader(dataset: data, transform: Preset.detr.train(), options: options))
        XCTAssertEqual(whole.count, 3)
        for workers in [0, 2] {
            let shards = try (0..<2).map { k -> [Batch] in
                var o = options
                o.workers = workers
                o.shardIndex = k
                o.shardCount = 2
                return loaderEpochBatches(try DataLoader(dataset: data, transform: Preset.detr.train(), options: o))
            }
            for (b, w) in whole.enumerated() {
                let parts = shards.map { $0[b] }
                XCTAssertEqual(parts.flatMap(\.indices), w.indices, "workers \(workers)")
                XCTAssertEqual(parts.flatMap(\.targets), w.targets, "workers \(workers)")
                XCTAssertEqual(parts.map(\.offset), [0, 2])
                let shape = w.images.tensors.shape
                let padded = parts.map { $0.images.padded(toHeight: shape[2], width: shape[3]) }
                XCTAssertEqual(padded.flatMap { scalars($0.tensors) }, scalars(w.images.tensors), "workers \(workers)")
                XCTAssertEqual(padded.flatMap(\.mask.values), w.images.mask.values, "workers \(workers)")
            }
        }
        var tooMany = options
        tooMany.shardCount = 5
        XCTAssertThrowsError(try DataLoader(dataset: data, transform: Identity(), options: tooMany))
    }

    func loaderEpochBatches(_ loader: DataLoader) -> [Batch] {
        let e = loader.epoch(1)
        var out: [Batch] = []
        while let b = try? e.next() { out.append(b) }
        return out
    }

    func testShuffle_DiffersPerEpochAndRepeatsForTheSeed() throws {
        let loader = try DataLoader(dataset: PatternDataset(count: 50), transform: Identity(), options: LoaderOptions(seed: 1))
        XCTAssertEqual(loader.order(epoch: 0), loader.order(epoch: 0))
        XCTAssertNotEqual(loader.order(epoch: 0), loader.order(epoch: 1))
        XCTAssertEqual(loader.order(epoch: 3).sorted(), Array(0..<50))
        let other = try DataLoader(dataset: PatternDataset(count: 50), transform: Identity(), options: LoaderOptions(seed: 2))
        XCTAssertNotEqual(loader.order(epoch: 0), other.order(epoch: 0))
        let plain = try DataLoader(dataset: PatternDataset(count: 5), transform: Identity(), options: LoaderOptions(shuffle: false))
        XCTAssertEqual(plain.order(epoch: 4), [0, 1, 2, 3, 4])
    }

    func testDropLast_AndBatchSizes() throws {
        for (dropLast, expected) in [(true, [4, 4]), (false, [4, 4, 2])] {
            let loader = try DataLoader(dataset: PatternDataset(count: 10), transform: Identity(),
                                        options: LoaderOptions(batchSize: 4, dropLast: dropLast, workers: 2))
            XCTAssertEqual(loader.batchCount, expected.count)
            XCTAssertEqual(try collect(loader, epoch: 0).map(\.3.count), expected)
        }
    }

    func testZeroSizeBoxes_AreDroppedAfterTransforms() throws {
        // Each pattern sample has a zero-width box (5,5,5,9).
        let loader = try DataLoader(dataset: PatternDataset(count: 4), transform: Identity(), options: LoaderOptions(batchSize: 4))
        let b = try XCTUnwrap(try loader.epoch(0).next())
        for t in b.targets {
            XCTAssertEqual(t.count, 1)
            XCTAssertEqual(t.boxes.count, 4)
            XCTAssertEqual(t.source.masks?.count, 1)
        }
    }

    func testWorkerError_NamesTheFile() throws {
        for workers in [0, 3] {
            let loader = try DataLoader(dataset: PatternDataset(count: 12, failing: [7]), transform: Identity(),
                                        options: LoaderOptions(batchSize: 2, shuffle: false, workers: workers))
            let e = loader.epoch(0)
            var served = 0
            do {
                while try e.next() != nil { served += 1 }
                XCTFail("expected an error")
            } catch let error as LoaderError {
                XCTAssertTrue("\(error)".contains("/fake/image_7.jpg"), "\(error)")
                XCTAssertEqual(error.index, 7)
            }
            XCTAssertEqual(served, 3, "workers \(workers)")
            XCTAssertNil(try e.next())
        }
    }

    func testLenientMode_SkipsAndCountsBadSamples() throws {
        for workers in [0, 2] {
            let loader = try DataLoader(dataset: PatternDataset(count: 9, failing: [2, 4, 5]), transform: Identity(),
                                        options: LoaderOptions(batchSize: 2, shuffle: false, workers: workers, lenient: true))
            let e = loader.epoch(0)
            var indices: [Int] = []
            while let b = try e.next() { indices += b.indices }
            XCTAssertEqual(indices, [0, 1, 3, 6, 7, 8])
            XCTAssertEqual(e.skipped.map(\.index), [2, 4, 5])
        }
    }

    func testEarlyStop_ReleasesWorkers() throws {
        let loader = try DataLoader(dataset: PatternDataset(count: 40), transform: Identity(),
                                    options: LoaderOptions(batchSize: 2, workers: 3, prefetchBatches: 1))
        let e = loader.epoch(0)
        _ = try e.next()
        e.cancel()
        XCTAssertNil(try e.next())
    }

    func testBadOptions_Throw() {
        XCTAssertThrowsError(try DataLoader(dataset: PatternDataset(count: 1), transform: Identity(), options: LoaderOptions(batchSize: 0)))
        XCTAssertThrowsError(try DataLoader(dataset: PatternDataset(count: 1), transform: Identity(), options: LoaderOptions(workers: -1)))
    }

    func testMissingImageFile_ErrorNamesIt() throws {
        let missing = "/nonexistent-detrkit/raccoon-404.jpg"
        let data = AnnotationLinesDataset(lines: [AnnotationLine(imagePath: missing, boxes: [LabeledBox(1, 1, 5, 5, 0)])])
        for workers in [0, 2] {
            let loader = try DataLoader(dataset: data, transform: Identity(), options: LoaderOptions(workers: workers))
            XCTAssertThrowsError(try loader.epoch(0).next()) { error in
                XCTAssertTrue("\(error)".contains(missing), "\(error)")
            }
        }
    }
}
