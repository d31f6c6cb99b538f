import Augment
import Datasets
import Tensor
import TestSupport
import XCTest

/// The loader over the shared VOC sets (skipped when ../shared/data is absent).
final class SharedDataLoaderTests: XCTestCase {
    func testBCCD_ZeroAreaBoxesDroppedAndWorkersAgree() throws {
        let root = try TestPaths.sharedVOC("bccd")
        let kit = VOCDevkit(root: root + "/VOCdevkit")
        let classes = ClassList(names: ["RBC", "WBC", "Platelets"])
        let all = try VOCFolderDataset(devkit: kit, imageSet: nil, classes: classes, includeDifficult: true)
        guard let i338 = all.ids.firstIndex(of: "BloodImage_00338") else { throw XCTSkip("BloodImage_00338 not in bccd") }
        let raw = try all.sample(at: i338)
        XCTAssertTrue(raw.target.boxes.contains { !$0.hasPositiveSize }, "expected a zero-area box in BloodImage_00338")
        // A small subset through the loader, 1 and 2 workers, none-preset: no empty box survives.
        struct Subset: DetectionDataset {
            let base: VOCFolderDataset
            let picks: [Int]
            var count: Int { picks.count }
            func imagePath(at index: Int) -> String { base.imagePath(at: picks[index]) }
            func sample(at index: Int) throws -> Sample { try base.sample(at: picks[index]) }
        }
        let subset = Subset(base: all, picks: [i338, 0, 1, 2, 3, 4])
        var previous: [[Float]]? = nil
        for workers in [1, 2] {
            let loader = try DataLoader(dataset: subset, transform: Preset.detr.train(),
                                        options: LoaderOptions(batchSize: 2, workers: workers, seed: 5))
            let e = loader.epoch(0)
            var all: [[Float]] = []
            while let b = try e.next() {
                for t in b.targets {
                    for k in 0..<t.count { XCTAssertTrue(t.boxes[4 * k + 2] > 0 && t.boxes[4 * k + 3] > 0) }
                    all.append(t.boxes)
                }
                all.append(scalars(b.images.tensors))
            }
            if let previous { XCTAssertTrue(previous == all, "1 and 2 workers differ") }
            previous = all
        }
    }

    func testRaccoonLines_LoadThroughAnnotationLines() throws {
        let root = try TestPaths.sharedVOC("raccoon")
        let kit = VOCDevkit(root: root + "/VOCdevkit")
        let ids = Array(try kit.annotationIDs().prefix(4))
        let files = try kit.imageFiles()
        var lines: [AnnotationLine] = []
        for id in ids {
            let ann = try VOCAnnotation.load(kit.annotationPath(id))
            lines.append(AnnotationLine(imagePath: kit.imagesDirectory + "/" + files[id]!,
                                        boxes: ann.objects.map { LabeledBox(box: $0.box, classId: 0) }))
        }
        let loader = try DataLoader(dataset: AnnotationLinesDataset(lines: lines), transform: Preset.reference.train(),
                                    options: LoaderOptions(batchSize: 4, workers: 2))
        let b = try XCTUnwrap(try loader.epoch(0).next())
        XCTAssertEqual(b.images.tensors.shape, [4, 3, 800, 800])
        XCTAssertTrue(b.images.mask.values.allSatisfy { !$0 })
    }
}
