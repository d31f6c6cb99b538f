import ArgumentParser
import Augment
import Datasets
import Tensor

/// `detr-bench data`: one pass over the shared raccoon and bccd sets (VOC XML + JPEG decode,
/// DETR's train preset, normalisation, NestedTensor batches of 2), with 1 and 2 threads,
/// against PIL + torchvision doing the same in a torch DataLoader (scripts/bench/data_ref.py).
struct DataBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Decode + DETR train augmentation + batching (raccoon, bccd) vs PIL + torchvision.")

    @OptionGroup var options: BenchOptions

    static let sets = ["raccoon", "bccd"]
    static let classes = ClassList(names: ["raccoon", "RBC", "WBC", "Platelets"])

    func run() throws {
        for set in Self.sets where !FileIO.isDirectory(options.data + "/voc/\(set)/VOCdevkit/VOC2007/Annotations") {
            Bench.log("data: \(options.data)/voc/\(set) is absent; the data cases are skipped")
            return
        }
        try Bench.runCases(Self.cases(data: options.data), area: "data", options: options)
    }

    /// Both sets, one after the other.
    struct Joined: DetectionDataset {
        let parts: [VOCFolderDataset]
        var count: Int { parts.reduce(0) { $0 + $1.count } }

        func locate(_ index: Int) -> (VOCFolderDataset, Int) {
            var i = index
            for p in parts {
                if i < p.count { return (p, i) }
                i -= p.count
            }
            return (parts[parts.count - 1], i)
        }

        func imagePath(at index: Int) -> String { let (p, i) = locate(index); return p.imagePath(at: i) }
        func sample(at index: Int) throws -> Sample { let (p, i) = locate(index); return try p.sample(at: i) }
    }

    static func cases(data: String) -> [BenchCase] {
        [(1, 0), (2, 2)].map { threads, workers in
            BenchCase(name: "pipeline-\(threads)thread\(threads > 1 ? "s" : "")", reference: "PIL+torchvision",
                      referenceScript: "data_ref.py",
                      referenceArguments: [data + "/voc/raccoon/VOCdevkit", data + "/voc/bccd/VOCdevkit", "--threads", String(threads)]) {
                let parts = try sets.map {
                    try VOCFolderDataset(devkit: VOCDevkit(root: data + "/voc/\($0)/VOCdevkit"), imageSet: nil, classes: classes,
                                         includeDifficult: true)
                }
                let loader = try DataLoader(dataset: Joined(parts: parts), transform: Preset.detr.train(),
                                            options: LoaderOptions(batchSize: 2, shuffle: true, workers: workers, seed: 42))
                // Every batch has its own padded size; the allocator's size classes (eight per
                // power of two) let them share buffers: 241 MB peak RSS for the pass, where
                // exact-size caching kept every batch's buffers (2.7 GB).
                return {
                    let epoch = loader.epoch(0)
                    var images = 0
                    while let b = try epoch.next() { images += b.targets.count }
                    precondition(images == loader.dataset.count)
                }
            }
        }
    }
}
