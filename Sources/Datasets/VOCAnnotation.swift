import CXML2

/// A box in absolute pixel coordinates, as written in the XML (`xmin ymin xmax ymax`).
public struct PixelBox: Equatable, Hashable, Sendable {
    public var xmin: Int
    public var ymin: Int
    public var xmax: Int
    public var ymax: Int

    public init(xmin: Int, ymin: Int, xmax: Int, ymax: Int) {
        self.xmin = xmin
        self.ymin = ymin
        self.xmax = xmax
        self.ymax = ymax
    }

    public var width: Int { xmax - xmin }
    public var height: Int { ymax - ymin }
}

/// `<size>` of a VOC annotation.
public struct ImageSize: Equatable, Sendable {
    public var width: Int
    public var height: Int
    public var depth: Int

    public init(width: Int, height: Int, depth: Int = 3) {
        self.width = width
        self.height = height
        self.depth = depth
    }
}

/// One `<object>` of a VOC annotation.
public struct VOCObject: Equatable, Sendable {
    public var name: String
    public var pose: String?
    public var truncated: Bool
    public var difficult: Bool
    public var box: PixelBox

    public init(name: String, pose: String? = nil, truncated: Bool = false, difficult: Bool = false, box: PixelBox) {
        self.name = name
        self.pose = pose
        self.truncated = truncated
        self.difficult = difficult
        self.box = box
    }
}

/// A Pascal VOC annotation file (`Annotations/<id>.xml`).
public struct VOCAnnotation: Equatable, Sendable {
    public var filename: String?
    public var folder: String?
    /// `nil` when the file has no `<size>` or gives a zero width or height; see `load`.
    public var size: ImageSize?
    public var objects: [VOCObject]

    public init(filename: String? = nil, folder: String? = nil, size: ImageSize?, objects: [VOCObject]) {
        self.filename = filename
        self.folder = folder
        self.size = size
        self.objects = objects
    }
}

extension VOCAnnotation {
    /// Parses the XML in `bytes`. `path` names the file in errors.
    ///
    /// Follows the reference voc_annotation.py: objects are every `<object>` element in document
    /// order (at any depth, as ElementTree's `iter`); `name` and `bndbox` are required; the
    /// coordinates are read as numbers and truncated toward zero (`int(float(x))`);
    /// `difficult` and `truncated` default to 0. The root element may carry attributes and any
    /// name. A missing `<size>` or a zero width/height leaves `size` nil.
    public static func parse(_ bytes: [UInt8], path: String) throws -> VOCAnnotation {
        VOCXML.initialise()
        let options = Int32(XML_PARSE_NONET.rawValue | XML_PARSE_NOBLANKS.rawValue)
        // Collect the first error (libxml2 keeps only the last, which is often a consequence)
        // through a per-thread structured handler; this also keeps libxml2 off stderr.
        let collector = XMLErrorCollector()
        let context = Unmanaged.passUnretained(collector).toOpaque()
        xmlSetStructuredErrorFunc(context, xmlCollectError)
        let doc = bytes.withUnsafeBufferPointer { buf -> xmlDocPtr? in
            buf.baseAddress!.withMemoryRebound(to: CChar.self, capacity: max(buf.count, 1)) { p in
                xmlReadMemory(p, Int32(buf.count), nil, nil, options)
            }
        }
        xmlSetStructuredErrorFunc(nil, nil)
        withExtendedLifetime(collector) {}
        guard let doc else {
            let first = collector.first
            let reason = bytes.isEmpty ? "empty file" : (first?.message ?? "not well-formed XML")
            throw DatasetError.malformedXML(path: path, line: first?.line ?? 0, reason: reason)
        }
        defer { xmlFreeDoc(doc) }
        guard let root = xmlDocGetRootElement(doc) else {
            throw DatasetError.malformedXML(path: path, line: 0, reason: "no root element")
        }
        var ann = VOCAnnotation(size: nil, objects: [])
        ann.filename = VOCXML.childText(root, "filename")
        ann.folder = VOCXML.childText(root, "folder")
        if let size = VOCXML.child(root, "size") {
            let w = try VOCXML.optionalInt(size, "width", path: path, context: "size") ?? 0
            let h = try VOCXML.optionalInt(size, "height", path: path, context: "size") ?? 0
            let d = try VOCXML.optionalInt(size, "depth", path: path, context: "size") ?? 3
            if w < 0 || h < 0 {
                throw DatasetError.invalidAnnotation(path: path, element: "size", reason: "negative width or height (\(w)x\(h))")
            }
            if w > 0 && h > 0 { ann.size = ImageSize(width: w, height: h, depth: d) }
        }
        var index = 0
        try VOCXML.forEachElement(named: "object", under: root) { obj in
            let here = "object[\(index)]"
            guard let name = VOCXML.childText(obj, "name") else {
                throw DatasetError.invalidAnnotation(path: path, element: "\(here)/name", reason: "missing <name>")
            }
            guard let bb = VOCXML.child(obj, "bndbox") else {
                throw DatasetError.invalidAnnotation(path: path, element: "\(here)/bndbox", reason: "missing <bndbox> for object '\(name)'")
            }
            func coord(_ tag: String) throws -> Int {
                guard let v = try VOCXML.optionalInt(bb, tag, path: path, context: "\(here)/bndbox") else {
                    throw DatasetError.invalidAnnotation(path: path, element: "\(here)/bndbox/\(tag)", reason: "missing <\(tag)>")
                }
                return v
            }
            let box = PixelBox(xmin: try coord("xmin"), ymin: try coord("ymin"), xmax: try coord("xmax"), ymax: try coord("ymax"))
            let difficult = try VOCXML.optionalInt(obj, "difficult", path: path, context: here) ?? 0
            let truncated = try VOCXML.optionalInt(obj, "truncated", path: path, context: here) ?? 0
            ann.objects.append(VOCObject(name: name, pose: VOCXML.childText(obj, "pose"),
                                         truncated: truncated != 0, difficult: difficult == 1, box: box))
            index += 1
        }
        return ann
    }

    /// Reads and parses an annotation file. When the XML has no usable `<size>` and
    /// `sizeFromImage` names an image, the size is read from that image's header.
    /// With `requireSize`, an annotation still without a size is an error.
    public static func load(_ path: String, sizeFromImage: String? = nil, requireSize: Bool = false) throws -> VOCAnnotation {
        var ann = try parse(try FileIO.readBytes(path), path: path)
        if ann.size == nil, let image = sizeFromImage {
            let (w, h) = try ImageIO.size(ofFile: image)
            ann.size = ImageSize(width: w, height: h, depth: 3)
        }
        if requireSize && ann.size == nil {
            throw DatasetError.invalidAnnotation(path: path, element: "size", reason: "missing <size> (or zero width/height) and no image to read it from")
        }
        return ann
    }
}

/// The first error libxml2 reports while parsing one document.
final class XMLErrorCollector {
    var first: (line: Int, message: String)?
}

/// libxml2's structured error callback: records the first error in the collector.
private func xmlCollectError(_ context: UnsafeMutableRawPointer?, _ error: xmlErrorPtr?) {
    guard let context, let error else { return }
    let collector = Unmanaged<XMLErrorCollector>.fromOpaque(context).takeUnretainedValue()
    guard collector.first == nil, error.pointee.level.rawValue >= XML_ERR_ERROR.rawValue else { return }
    let message = error.pointee.message.map { String(cString: $0).trimmingTrailingWhitespace() } ?? "XML error"
    collector.first = (Int(error.pointee.line), message)
}

/// libxml2 tree helpers.
enum VOCXML {
    private static let once: Void = { xmlInitParser() }()

    static func initialise() { _ = once }

    static func name(_ node: xmlNodePtr) -> String? {
        guard let n = node.pointee.name else { return nil }
        return String(cString: n)
    }

    /// Compares an element's name with `tag` without building a String.
    static func nameIs(_ node: xmlNodePtr, _ tag: String) -> Bool {
        guard let n = node.pointee.name else { return false }
        var tag = tag
        return tag.withUTF8 { t in
            var i = 0
            while i < t.count {
                if n[i] != t[i] { return false }
                i += 1
            }
            return n[i] == 0
        }
    }

    static func isElement(_ node: xmlNodePtr) -> Bool {
        node.pointee.type == XML_ELEMENT_NODE
    }

    /// The first direct child element with this tag (ElementTree's `find`).
    static func child(_ node: xmlNodePtr, _ tag: String) -> xmlNodePtr? {
        var c = node.pointee.children
        while let cur = c {
            if isElement(cur) && nameIs(cur, tag) { return cur }
            c = cur.pointee.next
        }
        return nil
    }

    /// The text content of a node.
    static func text(_ node: xmlNodePtr) -> String {
        var out = ""
        appendText(node, to: &out)
        return out
    }

    /// Concatenates the text and CDATA below a node (what ElementTree's itertext gives; for
    /// the leaf elements read here it equals `.text`).
    private static func appendText(_ node: xmlNodePtr, to out: inout String) {
        var c = node.pointee.children
        while let cur = c {
            let t = cur.pointee.type
            if t == XML_TEXT_NODE || t == XML_CDATA_SECTION_NODE {
                if let content = cur.pointee.content { out += String(cString: content) }
            } else if t == XML_ELEMENT_NODE {
                appendText(cur, to: &out)
            }
            c = cur.pointee.next
        }
    }

    /// Text of the first child with this tag, whitespace-trimmed; nil if absent.
    static func childText(_ node: xmlNodePtr, _ tag: String) -> String? {
        guard let c = child(node, tag) else { return nil }
        return text(c).trimmingWhitespace()
    }

    /// `int(float(text))` of a child, nil if the child is absent; a non-numeric value is an
    /// error naming the element.
    static func optionalInt(_ node: xmlNodePtr, _ tag: String, path: String, context: String) throws -> Int? {
        guard let raw = childText(node, tag) else { return nil }
        guard let v = Double(raw), v.isFinite, abs(v) < 1e15 else {
            throw DatasetError.invalidAnnotation(path: path, element: "\(context)/\(tag)", reason: "expected a number, found '\(raw)'")
        }
        return Int(v.rounded(.towardZero))
    }

    /// Every element with this tag below `node`, in document order (ElementTree's `iter`).
    static func forEachElement(named tag: String, under node: xmlNodePtr, _ body: (xmlNodePtr) throws -> Void) rethrows {
        var c = node.pointee.children
        while let cur = c {
            if isElement(cur) {
                if nameIs(cur, tag) { try body(cur) }
                try forEachElement(named: tag, under: cur, body)
            }
            c = cur.pointee.next
        }
    }
}

extension String {
    /// Strips surrounding whitespace (as Python's `str.strip()`); ASCII fast path.
    func trimmingWhitespace() -> String {
        let fast: String? = utf8.withContiguousStorageIfAvailable { b -> String? in
            var lo = 0, hi = b.count
            func ws(_ c: UInt8) -> Bool { c == 0x20 || (c >= 0x09 && c <= 0x0D) }
            while lo < hi, ws(b[lo]) { lo += 1 }
            while hi > lo, ws(b[hi - 1]) { hi -= 1 }
            if (lo < hi && (b[lo] >= 0x80 || b[hi - 1] >= 0x80)) { return nil }  // maybe Unicode space
            if lo == 0 && hi == b.count { return self }
            return String(decoding: UnsafeBufferPointer(rebasing: b[lo..<hi]), as: UTF8.self)
        } ?? nil
        if let fast { return fast }
        let scalars = unicodeScalars
        var start = scalars.startIndex
        var end = scalars.endIndex
        while start < end, scalars[start].properties.isWhitespace { start = scalars.index(after: start) }
        while end > start, scalars[scalars.index(before: end)].properties.isWhitespace { end = scalars.index(before: end) }
        return String(scalars[start..<end])
    }

    func trimmingTrailingWhitespace() -> String {
        var s = Substring(self)
        while let last = s.last, last.isWhitespace { s.removeLast() }
        return String(s)
    }
}
