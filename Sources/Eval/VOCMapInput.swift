import Datasets

// The text folders of the Cartucho/mAP layout, which get_map.py of the detr-pytorch family
// writes and reads:
//
//   ground-truth/<id>.txt        one object a line: `class left top right bottom [difficult]`
//   detection-results/<id>.txt   one detection a line: `class score left top right bottom`
//
// Coordinates are pixels (floats accepted), `left top right bottom` inclusive as in VOC XML.
// Class names may contain no spaces in this format: a line is split at whitespace and must
// have exactly 5 (or 6, the last being the word `difficult`) or 6 fields. (The reference
// tries to re-join extra leading fields into a name with spaces; that guess is ambiguous, so
// here such a line is an error naming the file and line.) Blank lines are skipped (the
// reference crashes on them). Only `*.txt` files whose names do not start with `.` are read,
// and every ground-truth file needs a detection file of the same name and vice versa (an
// image without detections has an empty file), as in the reference.

/// One ground-truth object of a `ground-truth/<id>.txt` file.
public struct VOCGroundTruthObject: Equatable, Sendable {
    public var className: String
    /// left, top, right, bottom in pixels (inclusive corners).
    public var left, top, right, bottom: Double
    /// Difficult objects are neither required (not counted in recall) nor false positives.
    public var difficult: Bool

    public init(className: String, left: Double, top: Double, right: Double, bottom: Double, difficult: Bool = false) {
        self.className = className
        self.left = left; self.top = top; self.right = right; self.bottom = bottom
        self.difficult = difficult
    }
}

/// One detection of a `detection-results/<id>.txt` file.
public struct VOCDetection: Equatable, Sendable {
    public var className: String
    public var score: Double
    public var left, top, right, bottom: Double

    public init(className: String, score: Double, left: Double, top: Double, right: Double, bottom: Double) {
        self.className = className
        self.score = score
        self.left = left; self.top = top; self.right = right; self.bottom = bottom
    }
}

/// The ground truth and detections of a set of images, one entry per image id, in the order
/// of the sorted file names (the order in which the reference reads them).
public struct VOCMapInput: Sendable {
    public var imageIDs: [String]
    public var groundTruth: [[VOCGroundTruthObject]]
    public var detections: [[VOCDetection]]

    public init(imageIDs: [String], groundTruth: [[VOCGroundTruthObject]], detections: [[VOCDetection]]) {
        precondition(imageIDs.count == groundTruth.count && imageIDs.count == detections.count,
                     "VOCMapInput: one ground-truth and one detection list per image id")
        self.imageIDs = imageIDs
        self.groundTruth = groundTruth
        self.detections = detections
    }

    /// Reads the two folders. Throws `DatasetError` naming the folder or file (and line).
    public static func load(groundTruthFolder: String, detectionFolder: String) throws -> VOCMapInput {
        let gtNames = try textFiles(in: groundTruthFolder)
        let drNames = try textFiles(in: detectionFolder)
        if gtNames.isEmpty {
            throw DatasetError.invalidDevkit(path: groundTruthFolder, reason: "no ground-truth files (*.txt) found")
        }
        let drSet = Set(drNames)
        for name in gtNames where !drSet.contains(name) {
            throw DatasetError.unreadableFile(path: FileIO.join(detectionFolder, name),
                                              reason: "not found (every ground-truth file needs a detection file of the same name; write an empty file for an image without detections)")
        }
        let gtSet = Set(gtNames)
        for name in drNames where !gtSet.contains(name) {
            throw DatasetError.unreadableFile(path: FileIO.join(groundTruthFolder, name),
                                              reason: "not found (a detection file has no ground-truth file of the same name)")
        }
        var ids: [String] = []
        var gts: [[VOCGroundTruthObject]] = []
        var dets: [[VOCDetection]] = []
        ids.reserveCapacity(gtNames.count)
        for name in gtNames {
            ids.append(String(name.dropLast(4)))
            gts.append(try parseGroundTruth(try FileIO.readText(FileIO.join(groundTruthFolder, name)),
                                            path: FileIO.join(groundTruthFolder, name)))
            dets.append(try parseDetections(try FileIO.readText(FileIO.join(detectionFolder, name)),
                                            path: FileIO.join(detectionFolder, name)))
        }
        return VOCMapInput(imageIDs: ids, groundTruth: gts, detections: dets)
    }

    /// The `*.txt` names of a folder, sorted by their bytes (as the reference sorts its glob).
    static func textFiles(in folder: String) throws -> [String] {
        guard FileIO.isDirectory(folder) else {
            throw DatasetError.unreadableFile(path: folder, reason: FileIO.exists(folder) ? "not a directory" : "no such directory")
        }
        return try FileIO.listDirectory(folder).filter { $0.hasSuffix(".txt") && !$0.hasPrefix(".") && $0.utf8.count > 4 }
    }

    /// Parses the text of a ground-truth file (`class left top right bottom [difficult]`).
    public static func parseGroundTruth(_ text: String, path: String) throws -> [VOCGroundTruthObject] {
        var out: [VOCGroundTruthObject] = []
        for (i, line) in lines(text).enumerated() {
            let f = line.split(whereSeparator: { $0.isWhitespace })
            if f.isEmpty { continue }
            let difficult = f.count == 6 && f[5] == "difficult"
            guard f.count == 5 || difficult else {
                throw DatasetError.invalidAnnotationLine(path: path, line: i + 1,
                    reason: "expected 'class left top right bottom [difficult]' (class names may contain no spaces), got \(f.count) fields")
            }
            let c = try coordinates(f[1...4], path: path, line: i + 1)
            out.append(VOCGroundTruthObject(className: String(f[0]), left: c[0], top: c[1], right: c[2], bottom: c[3],
                                            difficult: difficult))
        }
        return out
    }

    /// Parses the text of a detection file (`class score left top right bottom`).
    public static func parseDetections(_ text: String, path: String) throws -> [VOCDetection] {
        var out: [VOCDetection] = []
        for (i, line) in lines(text).enumerated() {
            let f = line.split(whereSeparator: { $0.isWhitespace })
            if f.isEmpty { continue }
            guard f.count == 6 else {
                throw DatasetError.invalidAnnotationLine(path: path, line: i + 1,
                    reason: "expected 'class score left top right bottom' (class names may contain no spaces), got \(f.count) fields")
            }
            let v = try coordinates(f[1...5], path: path, line: i + 1, names: ["score", "left", "top", "right", "bottom"])
            out.append(VOCDetection(className: String(f[0]), score: v[0], left: v[1], top: v[2], right: v[3], bottom: v[4]))
        }
        return out
    }

    static func lines(_ text: String) -> [Substring] {
        text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" })
    }

    static func coordinates(_ fields: ArraySlice<Substring>, path: String, line: Int,
                            names: [String] = ["left", "top", "right", "bottom"]) throws -> [Double] {
        var out: [Double] = []
        for (k, s) in fields.enumerated() {
            guard let v = Double(s), v.isFinite else {
                throw DatasetError.invalidAnnotationLine(path: path, line: line, reason: "\(names[k]) '\(s)' is not a finite number")
            }
            out.append(v)
        }
        return out
    }
}
