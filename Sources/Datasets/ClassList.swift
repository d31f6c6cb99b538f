/// The classes of a data set, read from a classes file: line i names class id i.
///
/// A blank line is an unused id (`coco_classes.txt` keeps index = COCO category id that way,
/// with line 0 blank); a final newline adds no id. Names are stripped of surrounding
/// whitespace (the reference scripts use `line.strip()`).
public struct ClassList: Equatable, Sendable {
    /// Name of each id; nil for unused ids.
    public let names: [String?]
    private let index: [String: Int]

    public init(names: [String?]) {
        self.names = names
        var idx: [String: Int] = [:]
        for (i, n) in names.enumerated() {
            if let n, idx[n] == nil { idx[n] = i }
        }
        index = idx
    }

    /// Number of ids, including unused ones (so the model's "no object" logit is `count`).
    public var count: Int { names.count }

    /// The used (non-blank) names in id order.
    public var usedNames: [String] { names.compactMap { $0 } }

    /// The id of a class name, nil when the name is not in the list.
    public func id(of name: String) -> Int? { index[name] }

    public subscript(id: Int) -> String? {
        id >= 0 && id < names.count ? names[id] : nil
    }

    /// Parses the text of a classes file. Duplicate names and a file without any name are
    /// errors naming `path` and the line.
    public static func parse(_ text: String, path: String) throws -> ClassList {
        var lines = text.splitLines().map(String.init)
        if lines.last == "" { lines.removeLast() }  // the final newline adds no id
        var names: [String?] = []
        var seen: [String: Int] = [:]
        for (i, raw) in lines.enumerated() {
            let name = raw.trimmingWhitespace()
            if name.isEmpty {
                names.append(nil)
                continue
            }
            if let first = seen[name] {
                throw DatasetError.invalidClassesFile(path: path, line: i + 1, reason: "duplicate class name '\(name)' (first on line \(first + 1))")
            }
            seen[name] = i
            names.append(name)
        }
        if seen.isEmpty {
            throw DatasetError.invalidClassesFile(path: path, line: 0, reason: "no class names in file")
        }
        return ClassList(names: names)
    }

    /// Reads a classes file.
    public static func load(_ path: String) throws -> ClassList {
        try parse(try FileIO.readText(path), path: path)
    }

    /// The file text for these names (blank lines for unused ids, final newline).
    public func fileText() -> String {
        names.map { $0 ?? "" }.joined(separator: "\n") + "\n"
    }
}
