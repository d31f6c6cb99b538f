import Foundation

// COCO panoptic JSON (the format of panoptic_val2017.json and of panoptic predictions):
//
//   {"annotations": [{"image_id": 1, "file_name": "x.png",
//                     "segments_info": [{"id": 3937500, "category_id": 1, "iscrowd": 0, "area": 3528, ...}]}],
//    "categories": [{"id": 1, "name": "person", "isthing": 1, ...}], ...}
//
// Each annotation has a PNG in a folder beside the JSON whose pixels hold segment ids as
// R + 256 G + 256^2 B (0 = void). Read with the project's JSON scanner (COCOPanopticReader.swift).

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
public enum PanopticImageID: Hashable, Sendable, CustomStringConvertible {
    case int(Int)
    case string(String)

    public var description: String {
        switch self {
        case let .int(i): return String(i)
        case let .string(s): return "'\(s)'"
        }
    }
}

/// One segment of `segments_info`.
public struct PanopticSegment: Sendable, Equatable {
    public var id: Int
    public var categoryID: Int
    /// 1 for a crowd region (ground truth only); 0 when absent.
    public var isCrowd: Int
    /// The pixel count written in the JSON (ground truth uses it; predictions' areas are counted
    /// from their PNG). Nil when absent.
    public var area: Double?
    /// The segment's box `[x, y, width, height]` in pixels as the JSON writes it (ground truth);
    /// nil when absent.
    public var bbox: COCOBox?

    public init(id: Int, categoryID: Int, isCrowd: Int = 0, area: Double? = nil, bbox: COCOBox? = nil) {
        self.id = id
        self.categoryID = categoryID
        self.isCrowd = isCrowd
        self.area = area
        self.bbox = bbox
    }
}

/// One image's annotation: its PNG file name and segments.
public struct PanopticAnnotation: Sendable, Equatable {
    public var imageID: PanopticImageID
    public var fileName: String
    public var segments: [PanopticSegment]

    public init(imageID: PanopticImageID, fileName: String, segments: [PanopticSegment]) {
        self.imageID = imageID
        self.fileName = fileName
        self.segments = segments
    }
}

/// A panoptic category.
public struct PanopticCategory: Sendable, Equatable {
    public var id: Int
    public var name: String
    /// 1 for things (countable objects), 0 for stuff.
    public var isThing: Int

    public init(id: Int, name: String, isThing: Int) {
        self.id = id
        self.name = name
        self.isThing = isThing
    }
}

/// A panoptic JSON file: annotations and (in ground truth) categories.
public struct COCOPanoptic: Sendable {
    public var annotations: [PanopticAnnotation]
    public var categories: [PanopticCategory]

    public init(annotations: [PanopticAnnotation], categories: [PanopticCategory]) {
        self.annotations = annotations
        self.categories = categories
    }

    /// Reads and decodes a panoptic JSON file.
    public static func load(_ path: String) throws -> COCOPanoptic {
        try decode(try FileIO.readBytes(path), path: path)
    }

    /// Decodes a panoptic JSON document with the project's JSON scanner (Foundation's
    /// JSONDecoder took a fifth of a 1000-image PQ evaluation). Keys other than those read are
    /// skipped; `path` names the file in errors, which also give the place in the document
    /// (`.annotations[3].segments_info[0].id`).
    public static func decode(_ bytes: [UInt8], path: String) throws -> COCOPanoptic {
        do {
            return try JSONScanner.withScanner(bytes, path: path) { s in
                let document = try PanopticJSONReader.document(&s)
                try s.expectEnd()
                return document
            }
        } catch let error as JSONError {
            throw PanopticError.invalidJSON(path: path, reason: "line \(error.line), byte \(error.offset): \(error.reason)")
        } catch let error as PanopticJSONReader.FieldError {
            throw PanopticError.invalidJSON(path: path, reason: error.reason)
        }
    }
}
