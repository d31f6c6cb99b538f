/// A labelled box of the annotation-lines format: absolute `xyxy` pixels and a class id.
public struct LabeledBox: Equatable, Hashable, Sendable {
    public var box: PixelBox
    public var classId: Int

    public init(box: PixelBox, classId: Int) {
        self.box = box
        self.classId = classId
    }

    public init(_ x1: Int, _ y1: Int, _ x2: Int, _ y2: Int, _ cls: Int) {
        self.init(box: PixelBox(xmin: x1, ymin: y1, xmax: x2, ymax: y2), classId: cls)
    }
}

/// One line of `2007_train.txt`: `<absolute image path> x1,y1,x2,y2,cls x1,y1,x2,y2,cls ...`
public struct AnnotationLine: Equatable, Sendable {
    public var imagePath: String
    public var boxes: [LabeledBox]

    public init(imagePath: String, boxes: [LabeledBox]) {
        self.imagePath = imagePath
        self.boxes = boxes
    }
}

/// Reader and writer of the annotation-lines format used by the detr-pytorch family of
/// scripts. Fields are separated by whitespace, so an image path containing whitespace cannot
/// be written: the writer refuses it, as the reference voc_annotation.py does.
public enum AnnotationLines {
    /// Parses the text of an annotation-lines file; blank lines are skipped. `path` names the
    /// file in errors (with the 1-based line number).
    public static func parse(_ text: String, path: String) throws -> [AnnotationLine] {
        var out: [AnnotationLine] = []
        var lineNo = 0
        for rawLine in text.splitLines() {
            lineNo += 1
            let fields = rawLine.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            guard let first = fields.first else { continue }
            var boxes: [LabeledBox] = []
            boxes.reserveCapacity(fields.count - 1)
            for field in fields.dropFirst() {
                let parts = field.split(separator: ",", omittingEmptySubsequences: false)
                guard parts.count == 5 else {
                    throw DatasetError.invalidAnnotationLine(path: path, line: lineNo, reason: "box '\(field)' should be x1,y1,x2,y2,class (5 integers)")
                }
                var v = [Int](repeating: 0, count: 5)
                for (k, p) in parts.enumerated() {
                    guard let n = Int(p) else {
                        throw DatasetError.invalidAnnotationLine(path: path, line: lineNo, reason: "box '\(field)': '\(p)' is not an integer")
                    }
                    v[k] = n
                }
                if v[4] < 0 {
                    throw DatasetError.invalidAnnotationLine(path: path, line: lineNo, reason: "box '\(field)': negative class id")
                }
                boxes.append(LabeledBox(v[0], v[1], v[2], v[3], v[4]))
            }
            out.append(AnnotationLine(imagePath: String(first), boxes: boxes))
        }
        return out
    }

    /// Reads an annotation-lines file.
    public static func load(_ path: String) throws -> [AnnotationLine] {
        try parse(try FileIO.readText(path), path: path)
    }

    /// Formats one line (without the newline). Throws when the path has whitespace or is empty.
    public static func format(_ line: AnnotationLine, path: String = "<lines>", lineNumber: Int = 0) throws -> String {
        if line.imagePath.isEmpty {
            throw DatasetError.invalidAnnotationLine(path: path, line: lineNumber, reason: "empty image path")
        }
        if line.imagePath.contains(where: { $0.isWhitespace }) {
            throw DatasetError.invalidAnnotationLine(path: path, line: lineNumber, reason: "image path '\(line.imagePath)' contains whitespace, which this format cannot represent; move the data set to a path without spaces")
        }
        var s = line.imagePath
        for b in line.boxes {
            s += " \(b.box.xmin),\(b.box.ymin),\(b.box.xmax),\(b.box.ymax),\(b.classId)"
        }
        return s
    }

    /// Formats all lines (each ending with a newline).
    public static func format(_ lines: [AnnotationLine], path: String = "<lines>") throws -> String {
        var out = ""
        for (i, l) in lines.enumerated() {
            out += try format(l, path: path, lineNumber: i + 1)
            out += "\n"
        }
        return out
    }

    /// Writes the lines to `path` atomically (nothing is written if any line is refused).
    public static func write(_ lines: [AnnotationLine], to path: String) throws {
        try FileIO.writeAtomically(path, text: try format(lines, path: path))
    }
}
