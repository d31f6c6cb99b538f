// The panoptic JSON reader over JSONScanner: a single pass without an intermediate tree.
//
// What is read (anything else is skipped, as a Decodable reading of the same keys would):
//   annotations (required): image_id (a number, or a string), file_name, segments_info with
//     id, category_id, iscrowd (absent or null: 0), area and bbox (absent or null: nil);
//   categories (optional): id, name (absent: the id as text), isthing (absent or null: 0).
// Integers may be written as integral floats (`3.0`), as Python's json accepts them for ids.

/// Reading functions of COCOPanoptic.decode.
enum PanopticJSONReader {
    /// A missing or mistyped key, with its place in the document.
    struct FieldError: Error {
        var reason: String
    }

    static func document(_ s: inout JSONScanner) throws -> COCOPanoptic {
        var annotations: [PanopticAnnotation]?
        var categories: [PanopticCategory] = []
        try expectKind(&s, .object, at: "")
        try s.beginObject()
        var first = true
        while let key = try s.nextKey(first: &first) {
            if key.equals("annotations") {
                annotations = try annotationList(&s)
            } else if key.equals("categories") {
                if s.skipNull() { categories = []; continue }
                categories = try categoryList(&s)
            } else {
                try s.skipValue()
            }
        }
        guard let annotations else { throw FieldError(reason: "missing key 'annotations'") }
        return COCOPanoptic(annotations: annotations, categories: categories)
    }

    /// Reads an array of objects at `at`: `element` reads each object's keys (after `{`) and
    /// gets the element's place for its errors.
    static func objectList<T>(_ s: inout JSONScanner, at: String,
                              _ element: (inout JSONScanner, () -> String) throws -> T) throws -> [T] {
        try expectKind(&s, .array, at: at)
        try s.beginArray()
        var out: [T] = []
        var first = true
        while try s.nextElement(first: &first) {
            let index = out.count
            func place() -> String { "\(at)[\(index)]" }
            try expectKind(&s, .object, at: place())
            try s.beginObject()
            out.append(try element(&s, place))
        }
        return out
    }

    static func annotationList(_ s: inout JSONScanner) throws -> [PanopticAnnotation] {
        try objectList(&s, at: ".annotations") { s, at in
            var imageID: PanopticImageID?
            var fileName: String?
            var segments: [PanopticSegment]?
            var firstKey = true
            while let key = try s.nextKey(first: &firstKey) {
                if key.equals("image_id") {
                    switch s.peekKind() {
                    case .string: imageID = .string(try s.readString())
                    default: imageID = .int(try integer(&s, at: at() + ".image_id"))
                    }
                } else if key.equals("file_name") {
                    fileName = try string(&s, at: at() + ".file_name")
                } else if key.equals("segments_info") {
                    segments = try segmentList(&s, at: at() + ".segments_info")
                } else {
                    try s.skipValue()
                }
            }
            guard let imageID else { throw FieldError(reason: "missing key 'image_id' at \(at())") }
            guard let fileName else { throw FieldError(reason: "missing key 'file_name' at \(at())") }
            guard let segments else { throw FieldError(reason: "missing key 'segments_info' at \(at())") }
            return PanopticAnnotation(imageID: imageID, fileName: fileName, segments: segments)
        }
    }

    static func segmentList(_ s: inout JSONScanner, at list: String) throws -> [PanopticSegment] {
        try objectList(&s, at: list) { s, at in
            var id: Int?
            var categoryID: Int?
            var isCrowd = 0
            var area: Double?
            var bbox: COCOBox?
            var firstKey = true
            while let key = try s.nextKey(first: &firstKey) {
                if key.equals("id") {
                    id = try integer(&s, at: at() + ".id")
                } else if key.equals("category_id") {
                    categoryID = try integer(&s, at: at() + ".category_id")
                } else if key.equals("iscrowd") {
                    isCrowd = s.skipNull() ? 0 : try integer(&s, at: at() + ".iscrowd")
                } else if key.equals("area") {
                    area = s.skipNull() ? nil : try number(&s, at: at() + ".area")
                } else if key.equals("bbox") {
                    bbox = s.skipNull() ? nil : try box(&s, at: at() + ".bbox")
                } else {
                    try s.skipValue()
                }
            }
            guard let id else { throw FieldError(reason: "missing key 'id' at \(at())") }
            guard let categoryID else { throw FieldError(reason: "missing key 'category_id' at \(at())") }
            return PanopticSegment(id: id, categoryID: categoryID, isCrowd: isCrowd, area: area, bbox: bbox)
        }
    }

    static func categoryList(_ s: inout JSONScanner) throws -> [PanopticCategory] {
        try objectList(&s, at: ".categories") { s, at in
            var id: Int?
            var name: String?
            var isThing = 0
            var firstKey = true
            while let key = try s.nextKey(first: &firstKey) {
                if key.equals("id") {
                    id = try integer(&s, at: at() + ".id")
                } else if key.equals("name") {
                    name = s.skipNull() ? nil : try string(&s, at: at() + ".name")
                } else if key.equals("isthing") {
                    isThing = s.skipNull() ? 0 : try integer(&s, at: at() + ".isthing")
                } else {
                    try s.skipValue()
                }
            }
            guard let id else { throw FieldError(reason: "missing key 'id' at \(at())") }
            return PanopticCategory(id: id, name: name ?? String(id), isThing: isThing)
        }
    }

    // MARK: values

    static func kindName(_ kind: JSONScanner.Kind) -> String {
        switch kind {
        case .object: return "an object"
        case .array: return "an array"
        case .string: return "a string"
        case .number: return "a number"
        case .bool: return "true/false"
        case .null: return "null"
        case .end: return "the end of the file"
        case .invalid: return "invalid JSON"
        }
    }

    /// Checks the next value's kind; a wrong kind is an error naming the place (malformed JSON
    /// is left to the scanner, which gives the line and byte).
    static func expectKind(_ s: inout JSONScanner, _ kind: JSONScanner.Kind, at: @autoclosure () -> String) throws {
        let found = s.peekKind()
        if found == kind || found == .invalid || found == .end { return }
        let place = at()
        throw FieldError(reason: "expected \(kindName(kind)) at \(place.isEmpty ? "the top level" : place), found \(kindName(found))")
    }

    static func integer(_ s: inout JSONScanner, at: @autoclosure () -> String) throws -> Int {
        try expectKind(&s, .number, at: at())
        let start = s.position
        let v = try s.readDouble()
        guard let i = JSONScanner.exactInteger(v) else {
            throw FieldError(reason: "expected an integer at \(at()), found \(v) (byte \(start))")
        }
        return Int(i)
    }

    static func number(_ s: inout JSONScanner, at: @autoclosure () -> String) throws -> Double {
        try expectKind(&s, .number, at: at())
        return try s.readDouble()
    }

    /// `[x, y, width, height]`: an array of four numbers.
    static func box(_ s: inout JSONScanner, at: @autoclosure () -> String) throws -> COCOBox {
        try expectKind(&s, .array, at: at())
        var v: [Double] = []
        try s.readDoubleArray(into: &v)
        guard v.count == 4 else { throw FieldError(reason: "expected 4 numbers [x, y, width, height] at \(at()), found \(v.count)") }
        return COCOBox(x: v[0], y: v[1], width: v[2], height: v[3])
    }

    static func string(_ s: inout JSONScanner, at: @autoclosure () -> String) throws -> String {
        try expectKind(&s, .string, at: at())
        return try s.readString()
    }
}
