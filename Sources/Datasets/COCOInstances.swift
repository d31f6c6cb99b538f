/// A COCO instances file (`instances_val2017.json`): images, categories (ids need not be
/// contiguous) and annotations. Unknown keys (`info`, `licenses`, ...) are skipped.
public struct COCOInstances: Equatable, Sendable {
    public var images: [COCOImage]
    public var categories: [COCOCategory]
    public var annotations: [COCOAnnotation]
    /// Things accepted with a warning (numeric-string ids converted, ...), one line each.
    public var warnings: [String]

    public init(images: [COCOImage], categories: [COCOCategory], annotations: [COCOAnnotation], warnings: [String] = []) {
        self.images = images
        self.categories = categories
        self.annotations = annotations
        self.warnings = warnings
    }

    /// Reads and parses an instances file (memory-mapped).
    public static func load(_ path: String) throws -> COCOInstances {
        do {
            return try JSONScanner.withFile(path) { try parse(&$0) }
        } catch let e as JSONError {
            throw COCOError.malformedJSON(e)
        }
    }

    /// Parses the bytes of an instances file; `path` names it in errors.
    public static func parse(_ bytes: [UInt8], path: String) throws -> COCOInstances {
        do {
            return try JSONScanner.withScanner(bytes, path: path) { try parse(&$0) }
        } catch let e as JSONError {
            throw COCOError.malformedJSON(e)
        }
    }

    static func parse(_ s: inout JSONScanner) throws -> COCOInstances {
        let path = s.path
        var out = COCOInstances(images: [], categories: [], annotations: [])
        var warnings = COCOWarnings()
        try s.beginObject()
        var first = true
        var sawImages = false
        while let key = try s.nextKey(first: &first) {
            if key.equals("images") {
                sawImages = true
                try s.beginArray()
                var f = true
                while try s.nextElement(first: &f) {
                    out.images.append(try readImage(&s, index: out.images.count, warnings: &warnings))
                }
            } else if key.equals("categories") {
                try s.beginArray()
                var f = true
                while try s.nextElement(first: &f) {
                    out.categories.append(try readCategory(&s, index: out.categories.count, warnings: &warnings))
                }
            } else if key.equals("annotations") {
                try s.beginArray()
                var f = true
                while try s.nextElement(first: &f) {
                    out.annotations.append(try readAnnotation(&s, index: out.annotations.count, warnings: &warnings))
                }
            } else {
                try s.skipValue()
            }
        }
        try s.expectEnd()
        if !sawImages { throw COCOError.invalidField(path: path, field: "images", reason: "missing") }
        warnings.addRepeatedAnnotationIds(out.annotations, path: path)
        out.warnings = warnings.lines
        return out
    }

    static func readImage(_ s: inout JSONScanner, index: Int, warnings: inout COCOWarnings) throws -> COCOImage {
        func field() -> String { "images[\(index)]" }
        try s.beginObject()
        var id: Int64?
        var width = 0, height = 0
        var fileName = ""
        var first = true
        while let key = try s.nextKey(first: &first) {
            if key.equals("id") {
                id = try readId(&s, field: field() + ".id", warnings: &warnings)
            } else if key.equals("width") {
                width = Int(try readCount(&s, field: field() + ".width"))
            } else if key.equals("height") {
                height = Int(try readCount(&s, field: field() + ".height"))
            } else if key.equals("file_name") {
                if s.peekKind() == .string { fileName = try s.readString() } else { try s.skipValue() }
            } else {
                try s.skipValue()
            }
        }
        guard let id else { throw COCOError.invalidField(path: s.path, field: field(), reason: "no id") }
        return COCOImage(id: id, width: width, height: height, fileName: fileName)
    }

    static func readCategory(_ s: inout JSONScanner, index: Int, warnings: inout COCOWarnings) throws -> COCOCategory {
        func field() -> String { "categories[\(index)]" }
        try s.beginObject()
        var id: Int64?
        var name = "", supercategory = ""
        var first = true
        while let key = try s.nextKey(first: &first) {
            if key.equals("id") {
                id = try readId(&s, field: field() + ".id", warnings: &warnings)
            } else if key.equals("name"), s.peekKind() == .string {
                name = try s.readString()
            } else if key.equals("supercategory"), s.peekKind() == .string {
                supercategory = try s.readString()
            } else {
                try s.skipValue()
            }
        }
        guard let id else { throw COCOError.invalidField(path: s.path, field: field(), reason: "no id") }
        return COCOCategory(id: id, name: name, supercategory: supercategory)
    }

    static func readAnnotation(_ s: inout JSONScanner, index: Int, warnings: inout COCOWarnings) throws -> COCOAnnotation {
        func field() -> String { "annotations[\(index)]" }
        try s.beginObject()
        var ann = COCOAnnotation(id: 0, imageId: 0, categoryId: 0, bbox: nil, area: nil)
        var sawId = false, sawImage = false, sawCategory = false
        var first = true
        while let key = try s.nextKey(first: &first) {
            if key.equals("segmentation") {
                ann.segmentation = try readSegmentation(&s, field: field() + ".segmentation")
            } else if key.equals("bbox") {
                ann.bbox = try readBox(&s, field: field() + ".bbox")
            } else if key.equals("area") {
                ann.area = try readNumber(&s, field: field() + ".area")
            } else if key.equals("iscrowd") {
                ann.isCrowd = try readFlag(&s, field: field() + ".iscrowd")
            } else if key.equals("image_id") {
                ann.imageId = try readId(&s, field: field() + ".image_id", warnings: &warnings)
                sawImage = true
            } else if key.equals("category_id") {
                ann.categoryId = try readId(&s, field: field() + ".category_id", warnings: &warnings)
                sawCategory = true
            } else if key.equals("id") {
                ann.id = try readId(&s, field: field() + ".id", warnings: &warnings)
                sawId = true
            } else {
                try s.skipValue()
            }
        }
        if !sawImage { throw COCOError.invalidField(path: s.path, field: field(), reason: "no image_id") }
        if !sawCategory { throw COCOError.invalidField(path: s.path, field: field(), reason: "no category_id") }
        if !sawId { throw COCOError.invalidField(path: s.path, field: field(), reason: "no id") }
        return ann
    }

    // MARK: shared field readers (also used by COCOResults)

    /// An id: an integer, or a numeric string converted with a warning (pycocotools would
    /// treat "2299" and 2299 as different images).
    static func readId(_ s: inout JSONScanner, field: @autoclosure () -> String, warnings: inout COCOWarnings) throws -> Int64 {
        switch s.peekKind() {
        case .number:
            let v = try s.readDouble()
            guard v.isFinite, v == v.rounded(), abs(v) < 9.0e18 else {
                throw COCOError.invalidField(path: s.path, field: field(), reason: "\(v) is not an integer id")
            }
            return Int64(v)
        case .string:
            let text = try s.readString()
            guard let v = Int64(text.trimmingSpaces()) else {
                throw COCOError.invalidField(path: s.path, field: field(), reason: "'\(text)' is not a numeric id")
            }
            warnings.add("\(s.path): \(field()): id written as the string \"\(text)\"; converted to the number \(v)")
            return v
        default:
            throw COCOError.invalidField(path: s.path, field: field(), reason: "expected an integer id")
        }
    }

    static func readNumber(_ s: inout JSONScanner, field: @autoclosure () -> String) throws -> Double {
        guard s.peekKind() == .number else {
            throw COCOError.invalidField(path: s.path, field: field(), reason: "expected a number")
        }
        return try s.readDouble()
    }

    static func readCount(_ s: inout JSONScanner, field: @autoclosure () -> String) throws -> Int64 {
        let v = try readNumber(&s, field: field())
        guard v.isFinite, v >= 0, v == v.rounded(), v < 1e15 else {
            throw COCOError.invalidField(path: s.path, field: field(), reason: "expected a non-negative integer, found \(v)")
        }
        return Int64(v)
    }

    /// `iscrowd`: 0/1 (any non-zero number is a crowd, as Python's truthiness) or a boolean.
    static func readFlag(_ s: inout JSONScanner, field: @autoclosure () -> String) throws -> Bool {
        switch s.peekKind() {
        case .bool: return try s.readBool()
        case .number: return try s.readDouble() != 0
        case .null: _ = s.skipNull(); return false
        default: throw COCOError.invalidField(path: s.path, field: field(), reason: "expected 0 or 1")
        }
    }

    /// `[x, y, w, h]`; `null` or `[]` give nil.
    static func readBox(_ s: inout JSONScanner, field: @autoclosure () -> String) throws -> COCOBox? {
        if s.skipNull() { return nil }
        guard s.peekKind() == .array else { throw COCOError.invalidField(path: s.path, field: field(), reason: "expected [x, y, w, h]") }
        // Four numbers read straight into the box (no array per box: results files have
        // hundreds of thousands).
        var v = (0.0, 0.0, 0.0, 0.0)
        var n = 0
        do {
            try s.beginArray()
            var first = true
            while try s.nextElement(first: &first) {
                guard s.peekKind() == .number else { throw s.error("expected a number") }
                let x = try s.readDouble()
                switch n {
                case 0: v.0 = x
                case 1: v.1 = x
                case 2: v.2 = x
                case 3: v.3 = x
                default: break
                }
                n += 1
            }
        } catch is JSONError {
            throw COCOError.invalidField(path: s.path, field: field(), reason: "expected four numbers")
        }
        if n == 0 { return nil }
        guard n == 4 else {
            throw COCOError.invalidField(path: s.path, field: field(), reason: "expected four numbers, found \(n)")
        }
        return COCOBox(x: v.0, y: v.1, width: v.2, height: v.3)
    }

    /// Polygons (a list of lists of numbers) or an RLE object (`size` + `counts` list or string).
    static func readSegmentation(_ s: inout JSONScanner, field: @autoclosure () -> String) throws -> COCOSegmentation? {
        switch s.peekKind() {
        case .null:
            _ = s.skipNull()
            return nil
        case .array:
            var polygons: [[Double]] = []
            try s.beginArray()
            var first = true
            while try s.nextElement(first: &first) {
                guard s.peekKind() == .array else {
                    throw COCOError.invalidField(path: s.path, field: field(), reason: "expected polygons (lists of numbers)")
                }
                var poly: [Double] = []
                try s.readDoubleArray(into: &poly)
                polygons.append(poly)
            }
            return .polygons(polygons)
        case .object:
            try s.beginObject()
            var height = -1, width = -1
            var counts: COCOSegmentation?
            var first = true
            while let key = try s.nextKey(first: &first) {
                if key.equals("size") {
                    var size: [Double] = []
                    try s.readDoubleArray(into: &size)
                    guard size.count == 2, size.allSatisfy({ $0 >= 0 && $0 < 1e9 && $0 == $0.rounded() }) else {
                        throw COCOError.invalidField(path: s.path, field: field() + ".size", reason: "expected [height, width]")
                    }
                    height = Int(size[0])
                    width = Int(size[1])
                } else if key.equals("counts") {
                    if s.peekKind() == .string {
                        counts = .compressedRLE(height: 0, width: 0, counts: try s.readStringBytes())
                    } else if s.peekKind() == .array {
                        var c: [UInt32] = []
                        try s.beginArray()
                        var f = true
                        while try s.nextElement(first: &f) {
                            let v = try s.readDouble()
                            guard v >= 0, v < 4.0e9, v == v.rounded() else {
                                throw COCOError.invalidField(path: s.path, field: field() + ".counts", reason: "\(v) is not a run length")
                            }
                            c.append(UInt32(v))
                        }
                        counts = .uncompressedRLE(height: 0, width: 0, counts: c)
                    } else {
                        throw COCOError.invalidField(path: s.path, field: field() + ".counts", reason: "expected a list or a string")
                    }
                } else {
                    try s.skipValue()
                }
            }
            guard height >= 0 else { throw COCOError.invalidField(path: s.path, field: field(), reason: "RLE without size") }
            switch counts {
            case let .uncompressedRLE(_, _, c)?:
                let total = c.reduce(UInt64(0)) { $0 + UInt64($1) }
                guard total == UInt64(height) * UInt64(width) else {
                    throw COCOError.invalidField(path: s.path, field: field() + ".counts",
                                                 reason: "run lengths sum to \(total), not height*width = \(height * width)")
                }
                return .uncompressedRLE(height: height, width: width, counts: c)
            case let .compressedRLE(_, _, c)?:
                return .compressedRLE(height: height, width: width, counts: c)
            default:
                throw COCOError.invalidField(path: s.path, field: field(), reason: "RLE without counts")
            }
        default:
            throw COCOError.invalidField(path: s.path, field: field(), reason: "expected polygons or an RLE object")
        }
    }
}

extension String {
    func trimmingSpaces() -> Substring {
        var s = Substring(self)
        while let f = s.first, f == " " { s.removeFirst() }
        while let l = s.last, l == " " { s.removeLast() }
        return s
    }
}
