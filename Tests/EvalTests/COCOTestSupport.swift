import Datasets
import Eval
import Foundation
import TestSupport
import XCTest

enum FixtureJSON {
    /// A fixture parsed into Foundation-style values (dictionaries, arrays, NSNumber, String)
    /// by the package's JSONScanner: Foundation's JSONSerialization on Linux misrounds some
    /// decimals (0.012345679012345678 read as ...675), which exact comparisons cannot afford.
    static func load(_ name: String) throws -> Any {
        let path = TestPaths.fixtures() + "/" + name
        return try JSONScanner.withScanner(try FileIO.readBytes(path), path: path) { s in
            let v = try jsonValue(&s)
            try s.expectEnd()
            return v
        }
    }

    static func jsonValue(_ s: inout JSONScanner) throws -> Any {
        switch s.peekKind() {
        case .object:
            var out: [String: Any] = [:]
            try s.beginObject()
            var first = true
            while let key = try s.nextKey(first: &first) { out[key.string] = try jsonValue(&s) }
            return out
        case .array:
            var out: [Any] = []
            try s.beginArray()
            var first = true
            while try s.nextElement(first: &first) { out.append(try jsonValue(&s)) }
            return out
        case .string: return try s.readString()
        case .number: return NSNumber(value: try s.readDouble())
        case .bool: return NSNumber(value: try s.readBool())
        case .null: _ = s.skipNull(); return NSNull()
        case .end, .invalid: throw s.error("expected a value")
        }
    }
}

/// One evaluation case of coco_reference.json.
struct COCOReferenceCase {
    var name: String
    var gt: String
    var dt: String
    var iouType: COCOIoUType
    var params: [String: Any]
    var stats: [Double]
    var summary: String?
    var perCategoryAP: [String: Double]?

    static func load(_ group: String) throws -> [COCOReferenceCase] {
        let root = try FixtureJSON.load("coco_reference.json") as! [String: Any]
        return (root[group] as! [[String: Any]]).map { e in
            COCOReferenceCase(name: e["name"] as! String, gt: e["gt"] as! String, dt: e["dt"] as! String,
                              iouType: COCOIoUType(rawValue: e["iou_type"] as! String)!,
                              params: e["params"] as? [String: Any] ?? [:],
                              stats: (e["stats"] as! [NSNumber]).map(\.doubleValue),
                              summary: e["summary"] as? String,
                              perCategoryAP: (e["per_category_ap"] as? [String: NSNumber])?.mapValues(\.doubleValue))
        }
    }

    /// COCOEvalParams with this case's overrides (useCats, imgIds, maxDets, areaRng).
    var evalParams: COCOEvalParams {
        var p = COCOEvalParams(iouType: iouType)
        if let u = params["useCats"] as? NSNumber { p.useCats = u.intValue != 0 }
        if let ids = params["imgIds"] as? [NSNumber] { p.imageIds = ids.map(\.int64Value) }
        if let md = params["maxDets"] as? [NSNumber] { p.maxDets = md.map(\.intValue) }
        if let ranges = params["areaRng"] as? [[Any]] {
            p.areaRanges = ranges.map { COCOAreaRange(label: $0[0] as! String, min: ($0[1] as! NSNumber).doubleValue,
                                                      max: ($0[2] as! NSNumber).doubleValue) }
        }
        return p
    }
}

/// Asserts two stats vectors agree within `tolerance`, printing both in full on a mismatch.
func assertStats(_ observed: [Double], _ expected: [Double], tolerance: Double = 1e-12, _ label: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(observed.count, expected.count, "\(label): stats count", file: file, line: line)
    let worst = zip(observed, expected).map { abs($0 - $1) }.max() ?? 0
    print("\(label): max |observed - pycocotools| = \(worst)")
    if worst > tolerance || observed.count != expected.count {
        XCTFail("\(label): max |diff| \(worst)\n expected \(expected)\n observed \(observed)", file: file, line: line)
    }
}

/// The ground truth and results paths of a fixture case `{"base": "shared" | "fixtures", "gt",
/// "dt"}`: under the shared data (a skip when it is absent) or this target's Fixtures folder.
func fixtureCasePaths(_ c: [String: Any]) throws -> (gt: String, dt: String) {
    var base = TestPaths.fixtures()
    if c["base"] as? String == "shared" {
        _ = try TestPaths.shared(c["gt"] as! String)
        base = TestPaths.sharedData
    }
    return (base + "/" + (c["gt"] as! String), base + "/" + (c["dt"] as! String))
}
