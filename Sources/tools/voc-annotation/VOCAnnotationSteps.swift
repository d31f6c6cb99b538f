import Base
import Datasets
import ToolSupport

/// The two steps of `voc-annotation` and their reports.
extension VOCAnnotationCommand {
    /// Mode 1: the ImageSets split of the annotations that have an image.
    func writeSplit(_ kit: VOCDevkit, imageFiles: [String: String]) throws {
        print("Generate txt in ImageSets.")
        let xmlIDs = try kit.annotationIDs()
        let xmlSet = Set(xmlIDs)
        let noImage = xmlIDs.filter { imageFiles[$0] == nil }
        let noXML = imageFiles.keys.filter { !xmlSet.contains($0) }.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        report(noImage, "annotation(s) without an image in \(kit.imagesDirectory), left out")
        report(noXML, "image(s) without an annotation in \(kit.annotationsDirectory), ignored")
        let usable = xmlIDs.filter { imageFiles[$0] != nil }
        if usable.isEmpty { throw ToolError("\(kit.annotationsDirectory): no annotation with a matching image") }
        var rng = SplitMix64(seed: seed)
        let split = VOCSplit.make(ids: usable, trainvalPercent: trainvalPercent, trainPercent: trainPercent, using: &rng)
        print("train and val size \(split.trainval.count)")
        print("train size \(split.train.count)")
        print("val size \(split.val.count)")
        print("test size \(split.test.count)")
        try kit.writeImageSets(split)
        print("Generate txt in ImageSets done.")
    }

    /// Mode 2: `<year>_train.txt` and `<year>_val.txt` from the split, with the class table
    /// and, with --check, the boxes and images checked.
    func writeLines(_ kit: VOCDevkit, classList: ClassList, imageFiles: [String: String]) throws {
        print("Generate \(year)_train.txt and \(year)_val.txt for train.")
        var results: [(name: String, conversion: VOCConversion)] = []
        for set in ["train", "val"] {
            let ids = try kit.readImageSet(set, from: imageSets)
            if imageSets == .segmentation { try checkMaskFiles(kit, ids: ids, list: set) }
            let conversion = try kit.convert(ids: ids, classes: classList, imageFiles: imageFiles,
                                             checkBoxes: check, decodeImages: check, threads: threads)
            results.append((set, conversion))
        }
        var counts = [Int](repeating: 0, count: classList.count)
        var unknown: [String: Int] = [:]
        var difficult = 0
        for (_, c) in results {
            for (i, n) in c.classCounts.enumerated() { counts[i] += n }
            for (k, n) in c.unknownNames { unknown[k, default: 0] += n }
            difficult += c.difficultSkipped
            report(c.missingImages, "id(s) listed in ImageSets without an image, left out")
        }
        if counts.reduce(0, +) == 0 {
            let seen = unknown.keys.sorted().prefix(10).joined(separator: ", ")
            throw ToolError("no objects of the classes in \(classes) were found in the annotations (names found: \(seen.isEmpty ? "none" : seen)); check the classes file. Nothing was written.")
        }
        try FileIO.makeDirectories(outputDir)
        for (name, c) in results {
            let path = FileIO.join(outputDir, "\(year)_\(name).txt")
            try AnnotationLines.write(c.lines, to: path)
            print("Wrote \(c.lines.count) lines to \(path)")
        }
        print("Generate \(year)_train.txt and \(year)_val.txt for train done.")
        printTable(classList: classList, counts: counts)
        if difficult > 0 { print("Left out \(difficult) object(s) marked difficult.") }
        if !unknown.isEmpty {
            let list = unknown.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value))" }.joined(separator: ", ")
            print("warning: left out \(unknown.values.reduce(0, +)) object(s) of classes not in \(classes): \(list)")
        }
        let trainImages = results[0].conversion.lines.count
        if trainImages <= 500 {
            print("warning: only \(trainImages) training images (500 or fewer): train for more epochs to get enough gradient steps.")
        }
        if check {
            // The check covers the test images too, which no line refers to.
            var checked = results.map { $0.conversion }
            if let testIDs = try? kit.readImageSet("test", from: imageSets) {
                checked.append(try kit.convert(ids: testIDs, classes: classList, imageFiles: imageFiles,
                                               checkBoxes: true, decodeImages: true, threads: threads))
            }
            printCheck(checked)
            if imageSets == .segmentation {
                let ids = try ["train", "val"].flatMap { try kit.readImageSet($0, from: imageSets) }
                printMaskCheck(kit, ids: ids)
            }
        }
    }

    /// Every id of a segmentation list has its SegmentationObject and SegmentationClass PNG.
    func checkMaskFiles(_ kit: VOCDevkit, ids: [String], list: String) throws {
        for id in ids {
            for path in [kit.segmentationObjectPath(id), kit.segmentationClassPath(id)] where !FileIO.isFile(path) {
                throw ToolError("\(path): no such mask (\(id) is listed in ImageSets/Segmentation/\(list).txt)")
            }
        }
    }

    /// --check of a segmentation split: reads every mask pair as palette indices and pairs its
    /// object indices with the XML's objects, printing each problem (size, index, layout).
    func printMaskCheck(_ kit: VOCDevkit, ids: [String]) {
        var problems: [String] = []
        for id in ids {
            do {
                let ann = try VOCAnnotation.load(kit.annotationPath(id))
                _ = try kit.loadSegmentation(id, annotation: ann)
            } catch {
                problems.append("\(error)")
            }
        }
        print("Check: \(problems.count) segmentation problem(s) in \(ids.count) mask pair(s).")
        for p in problems { print("  \(p)") }
    }

    func printTable(classList: ClassList, counts: [Int]) {
        let rows = classList.names.enumerated().compactMap { i, n in n.map { ($0, String(counts[i])) } }
        let w1 = max(5, rows.map { $0.0.count }.max() ?? 0)
        let w2 = max(5, rows.map { $0.1.count }.max() ?? 0)
        func pad(_ s: String, _ w: Int, right: Bool = false) -> String {
            let fill = String(repeating: " ", count: max(0, w - s.count))
            return right ? fill + s : s + fill
        }
        let rule = "+" + String(repeating: "-", count: w1 + 2) + "+" + String(repeating: "-", count: w2 + 2) + "+"
        print(rule)
        print("| \(pad("class", w1)) | \(pad("count", w2, right: true)) |")
        print(rule)
        for (n, c) in rows { print("| \(pad(n, w1)) | \(pad(c, w2, right: true)) |") }
        print(rule)
    }

    func printCheck(_ conversions: [VOCConversion]) {
        let suspicious = conversions.flatMap { $0.suspicious }
        let mismatches = conversions.flatMap { $0.imageMismatches }
        print("Check: \(suspicious.count) suspicious box(es), \(mismatches.count) image problem(s).")
        for s in suspicious {
            let size = s.imageSize.map { " in \($0.width)x\($0.height)" } ?? ""
            let problems = s.problems.map { $0.rawValue }.joined(separator: ", ")
            print("  \(s.id): \(s.objectName) [\(s.box.xmin),\(s.box.ymin),\(s.box.xmax),\(s.box.ymax)]\(size): \(problems)")
        }
        for m in mismatches { print("  \(m.imagePath): \(m.message)") }
    }

    func report(_ names: [String], _ what: String) {
        guard !names.isEmpty else { return }
        let shown = names.prefix(20).joined(separator: ", ")
        let more = names.count > 20 ? ", ... (\(names.count - 20) more)" : ""
        ToolIO.printError("warning: \(names.count) \(what): \(shown)\(more)")
    }
}
