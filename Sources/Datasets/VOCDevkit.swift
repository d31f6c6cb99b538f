/// A Pascal VOC devkit folder: `<root>/VOC<year>/{Annotations,JPEGImages,ImageSets/Main}`.
public struct VOCDevkit: Sendable {
    /// Absolute path of the `VOCdevkit` folder.
    public let root: String
    public let year: String

    public init(root: String, year: String = "2007") {
        self.root = FileIO.absolutePath(root)
        self.year = year
    }

    public var yearDirectory: String { FileIO.join(root, "VOC\(year)") }
    public var annotationsDirectory: String { FileIO.join(yearDirectory, "Annotations") }
    public var imagesDirectory: String { FileIO.join(yearDirectory, "JPEGImages") }
    public var imageSetsDirectory: String { FileIO.join(yearDirectory, "ImageSets", "Main") }

    public func annotationPath(_ id: String) -> String { FileIO.join(annotationsDirectory, id + ".xml") }

    /// File extensions taken as images, lower-cased.
    public static let imageExtensions: Set<String> = ["jpg", "jpeg", "png", "bmp", "gif", "tif", "tiff", "webp"]

    /// The ids of `Annotations/*.xml`, sorted by their UTF-8 bytes.
    public func annotationIDs() throws -> [String] {
        guard FileIO.isDirectory(annotationsDirectory) else {
            throw DatasetError.invalidDevkit(path: annotationsDirectory, reason: "no Annotations folder (expected VOCdevkit/VOC\(year)/Annotations)")
        }
        return try FileIO.listDirectory(annotationsDirectory)
            .filter { $0.hasSuffix(".xml") }
            .map { String($0.dropLast(4)) }
    }

    /// Image file names in `JPEGImages` by id (file name without its extension). When several
    /// files share an id, `<id>.jpg` wins, then the byte-wise first name.
    public func imageFiles() throws -> [String: String] {
        guard FileIO.isDirectory(imagesDirectory) else {
            throw DatasetError.invalidDevkit(path: imagesDirectory, reason: "no JPEGImages folder (expected VOCdevkit/VOC\(year)/JPEGImages)")
        }
        var byID: [String: String] = [:]
        for name in try FileIO.listDirectory(imagesDirectory) {
            guard let dot = name.lastIndex(of: ".") else { continue }
            let ext = name[name.index(after: dot)...].lowercased()
            guard Self.imageExtensions.contains(ext) else { continue }
            let id = String(name[..<dot])
            if let existing = byID[id], existing == id + ".jpg" { continue }
            if byID[id] == nil || name == id + ".jpg" { byID[id] = name }
        }
        return byID
    }

    /// Reads `ImageSets/Main/<name>.txt` (whitespace-separated ids, as the reference reads it).
    public func readImageSet(_ name: String) throws -> [String] {
        let path = FileIO.join(imageSetsDirectory, name + ".txt")
        guard FileIO.isFile(path) else {
            throw DatasetError.invalidDevkit(path: path, reason: "image set not found (run with --mode 1 or 0 first)")
        }
        return try FileIO.readText(path).split(whereSeparator: { $0.isWhitespace }).map(String.init)
    }

    /// Writes `ImageSets/Main/{trainval,train,val,test}.txt`, each in sorted id order.
    public func writeImageSets(_ split: VOCSplit) throws {
        try FileIO.makeDirectories(imageSetsDirectory)
        for (name, ids) in [("trainval", split.trainval), ("train", split.train), ("val", split.val), ("test", split.test)] {
            let text = ids.map { $0 + "\n" }.joined()
            try FileIO.writeAtomically(FileIO.join(imageSetsDirectory, name + ".txt"), text: text)
        }
    }
}

/// A train/val/test split of image ids.
public struct VOCSplit: Equatable, Sendable {
    public var trainval: [String]
    public var train: [String]
    public var val: [String]
    public var test: [String]

    public init(trainval: [String], train: [String], val: [String], test: [String]) {
        self.trainval = trainval
        self.train = train
        self.val = val
        self.test = test
    }

    /// The reproducible split of voc-annotation:
    ///
    /// 1. `ids` are sorted by their UTF-8 bytes;
    /// 2. shuffled by Fisher-Yates: for `i` from `n-1` down to 1, `j = rng.next() % (i+1)`
    ///    (the raw 64-bit output, reduced modulo), then swap elements `i` and `j`;
    /// 3. `tv = Int(Double(n) * trainvalPercent)`, `tr = Int(Double(tv) * trainPercent)`
    ///    (truncation, as Python's `int(n * p)`);
    /// 4. the first `tv` shuffled ids are trainval, the first `tr` of those are train, the rest
    ///    of trainval is val and the remaining ids are test;
    /// 5. every list is returned in sorted order.
    ///
    /// With the SplitMix64 generator (Base's `SplitMix64(seed:)`: state += 0x9E3779B97F4A7C15;
    /// z = (z ^ z>>30) * 0xBF58476D1CE4E5B9; z = (z ^ z>>27) * 0x94D049BB133111EB; z ^ z>>31)
    /// any implementation reproduces the same split from the same seed.
    public static func make<G: RandomNumberGenerator>(ids: [String], trainvalPercent: Double, trainPercent: Double,
                                                      using rng: inout G) -> VOCSplit {
        let sorted = ids.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var shuffled = sorted
        if shuffled.count > 1 {
            for i in stride(from: shuffled.count - 1, through: 1, by: -1) {
                let j = Int(rng.next() % UInt64(i + 1))
                shuffled.swapAt(i, j)
            }
        }
        let n = sorted.count
        let tv = min(n, max(0, Int(Double(n) * trainvalPercent)))
        let tr = min(tv, max(0, Int(Double(tv) * trainPercent)))
        func sort(_ a: ArraySlice<String>) -> [String] { a.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) } }
        return VOCSplit(trainval: sort(shuffled[0..<tv]), train: sort(shuffled[0..<tr]),
                        val: sort(shuffled[tr..<tv]), test: sort(shuffled[tv..<n]))
    }
}

/// What can be suspicious about a box.
public enum BoxProblem: String, Sendable, CaseIterable {
    /// `xmax == xmin` or `ymax == ymin`.
    case zeroArea = "zero area"
    /// `xmax < xmin` or `ymax < ymin`.
    case inverted = "xmax < xmin or ymax < ymin"
    /// A coordinate below 0 or beyond the image width/height.
    case outsideImage = "outside the image"
}

/// Checks one box against the image size (VOC coordinates are 1-based pixel indices, so
/// `xmax == width` is inside).
public func boxProblems(_ b: PixelBox, size: ImageSize?) -> [BoxProblem] {
    var out: [BoxProblem] = []
    if b.xmax < b.xmin || b.ymax < b.ymin {
        out.append(.inverted)
    } else if b.xmax == b.xmin || b.ymax == b.ymin {
        out.append(.zeroArea)
    }
    if let s = size {
        if b.xmin < 0 || b.ymin < 0 || b.xmax > s.width || b.ymax > s.height { out.append(.outsideImage) }
    } else if b.xmin < 0 || b.ymin < 0 {
        out.append(.outsideImage)
    }
    return out
}
