import Foundation

// COCO panoptic JSON (the format of panoptic_val2017.json and of panoptic predictions):
//
//   {"annotations": [{"image_id": 1, "file_name": "x.png",
//                     "segments_info": [{"id": 3937500, "category_id": 1, "iscrowd": 0, "area": 3528, ...}]}],
//    "categories": [{"id": 1, "name": "person", "isthing": 1, ...}], ...}
//
// Each annotation has a PNG in a folder beside the JSON whose pixels hold segment ids as
// R + 256 G + 256^2 B (0 = void). Read with Foundation's JSONDecoder: panoptic files are
// small (the annotation JSON of COCO val2017 is 5 MB) and the PNGs dominate the time.

/// Errors of the panoptic readers and of the evaluation's consistency checks; each names the file.
public enum PanopticError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The JSON cannot be decoded (syntax, or a missing / mistyped key).
    case invalidJSON(path: String, reason: String)
    /// A ground-truth image has no prediction (by image id).
    case missingPrediction(path: String, imageID: String)
    /// A PNG and its JSON annotation disagree, or the two PNGs of an image differ in size.
    case inconsistentSegments(path: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidJSON(path, reason): return "\(path): invalid panoptic JSON: \(reason)"
        case let .missingPrediction(path, imageID): return "\(path): no prediction for the image with id \(imageID)"
        case let .inconsistentSegments(path, reason): return "\(path): \(reason)"
        }
    }

    public var path: String {
        switch self {
        case let .invalidJSON(path, _), let .missingPrediction(path, _), let .inconsistentSegments(path, _): return path
        }
    }
}

/// An image id as COCO files write it: a number, or (in some files) a string.
public enum PanopticImageID: Hashable, Sendable, CustomStringConvertible, Decodable {
    case int(Int)
    case string(String)

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let i = try? c.decode(Int.self) {
            self = .int(i)
        } else {
            self = .string(try c.decode(String.self))
        }
    }

    public var description: String {
        switch self {
        case let .int(i): return String(i)
        case let .string(s): return "'\(s)'"
        }
    }
}

/// One segment of `segments_info`.
public struct PanopticSegment: Sendable, Decodable, Equatable {
    public var id: Int
    public var categoryID: Int
    /// 1 for a crowd region (ground truth only); 0 when absent.
    public var isCrowd: Int
    /// The pixel count written in the JSON (ground truth uses it; predictions' areas are counted
    /// from their PNG). Nil when absent.
    public var area: Double?

    enum CodingKeys: String, CodingKey {
        case id, categoryID = "category_id", isCrowd = "iscrowd", area
    }

    public init(id: Int, categoryID: Int, isCrowd: Int = 0, area: Double? = nil) {
        self.id = id
        self.categoryID = categoryID
        self.isCrowd = isCrowd
        self.area = area
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(Int.self, forKey: .id)
        categoryID = try c.decode(Int.self, forKey: .categoryID)
        isCrowd = try c.decodeIfPresent(Int.self, forKey: .isCrowd) ?? 0
        area = try c.decodeIfPresent(Double.self, forKey: .area)
    }
}

/// One image's annotation: its PNG file name and segments.
public struct PanopticAnnotation: Sendable, Decodable, Equatable {
    public var imageID: PanopticImageID
    public var fileName: String
    public var segments: [PanopticSegment]

    enum CodingKeys: String, CodingKey {
        case imageID = "image_id", fileName = "file_name", segments = "segments_info"
    }

    public init(imageID: PanopticImageID, fileName: String, segments: [PanopticSegment]) {
        self.imageID = imageID
        self.fileName = fileName
        self.segments = segments
    }
}

/// A panoptic category.
public struct PanopticCategory: Sendable, Decodable, Equatable {
    public var id: Int
    public var name: String
    /// 1 for things (countable objects), 0 for stuff.
    public var isThing: Int

    enum CodingKeys: String, CodingKey { case id, name, isThing = "isthing" }

    public init(id: Int, name: String, isThing: Int) {
        self.id = id
        self.name = name
        self.isThing = isThing
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(Int.self, forKey: .id)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? String(id)
        isThing = try c.decodeIfPresent(Int.self, forKey: .isThing) ?? 0
    }
}

/// A panoptic JSON file: annotations and (in ground truth) categories.
public struct COCOPanoptic: Sendable, Decodable {
    public var annotations: [PanopticAnnotation]
    public var categories: [PanopticCategory]

    enum CodingKeys: String, CodingKey { case annotations, categories }

    public init(annotations: [PanopticAnnotation], categories: [PanopticCategory]) {
        self.annotations = annotations
        self.categories = categories
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        annotations = try c.decode([PanopticAnnotation].self, forKey: .annotations)
        categories = try c.decodeIfPresent([PanopticCategory].self, forKey: .categories) ?? []
    }

    /// Reads and decodes a panoptic JSON file.
    public static func load(_ path: String) throws -> COCOPanoptic {
        let bytes = try FileIO.readBytes(path)
        do {
            return try JSONDecoder().decode(COCOPanoptic.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw PanopticError.invalidJSON(path: path, reason: describe(error))
        } catch {
            throw PanopticError.invalidJSON(path: path, reason: "\(error)")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func where_(_ ctx: DecodingError.Context) -> String {
            let keys = ctx.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return keys.isEmpty ? "" : " at \(keys)"
        }
        switch error {
        case let .keyNotFound(key, ctx): return "missing key '\(key.stringValue)'\(where_(ctx))"
        case let .typeMismatch(type, ctx): return "expected \(type)\(where_(ctx))"
        case let .valueNotFound(type, ctx): return "missing \(type) value\(where_(ctx))"
        case let .dataCorrupted(ctx):
            let under = ctx.underlyingError.map { ": \($0.localizedDescription)" } ?? ""
            return "\(ctx.debugDescription)\(where_(ctx))\(under)"
        @unknown default: return "\(error)"
        }
    }
}
