import ArgumentParser
import Datasets

/// `detr-bench io`: parse every VOC XML and decode every image of the shared raccoon and bccd
/// sets, against Python's xml.etree and PIL on the same files.
struct IOBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "io", abstract: "XML parsing and image decoding (raccoon, bccd) vs xml.etree and PIL.")

    @OptionGroup var options: BenchOptions

    func run() throws {
        for set in ["raccoon", "bccd"] where !FileIO.isDirectory(options.data + "/voc/\(set)/VOCdevkit/VOC2007/Annotations") {
            Bench.log("io: \(options.data)/voc/\(set) is absent; its cases are skipped")
        }
        let cases = Self.cases(data: options.data).filter {
            FileIO.isDirectory(options.data + "/voc/" + ($0.name.hasSuffix("raccoon") ? "raccoon" : "bccd"))
        }
        try Bench.runCases(cases, area: "io", options: options)
    }

    static func cases(data: String) -> [BenchCase] {
        var out: [BenchCase] = []
        for set in ["raccoon", "bccd"] {
            let kit = VOCDevkit(root: data + "/voc/\(set)/VOCdevkit")
            out.append(BenchCase(name: "xml-parse-\(set)", reference: "python-xml.etree", referenceScript: "io_ref.py",
                                 referenceArguments: ["xml", kit.annotationsDirectory]) { {
                let files = try FileIO.listDirectory(kit.annotationsDirectory).filter { $0.hasSuffix(".xml") }
                var objects = 0
                for f in files {
                    let path = kit.annotationsDirectory + "/" + f
                    objects += try VOCAnnotation.parse(try FileIO.readBytes(path), path: path).objects.count
                }
                precondition(objects > 0)
            } })
            out.append(BenchCase(name: "jpeg-decode-\(set)", reference: "PIL", referenceScript: "io_ref.py",
                                 referenceArguments: ["decode", kit.imagesDirectory]) { {
                let files = try FileIO.listDirectory(kit.imagesDirectory)
                var pixels = 0
                for f in files {
                    let img = try ImageIO.load(kit.imagesDirectory + "/" + f)
                    pixels += img.width * img.height
                }
                precondition(pixels > 0)
            } })
        }
        return out
    }
}
