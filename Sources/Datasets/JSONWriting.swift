import Foundation

/// A JSON string literal: quotes and backslashes escaped, control characters as \n, \r, \t
/// or \u00XX (the one string writer of the project's JSON outputs).
public func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 {
                out += String(format: "\\u%04x", u.value)
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    return out + "\""
}

extension RLE {
    /// The mask as a COCO `segmentation` object of a results file: `{"size": [h, w], "counts":
    /// "..."}`, the counts as pycocotools' compressed string.
    public var resultJSON: String {
        "{\"size\": [\(height), \(width)], \"counts\": \(jsonString(compressedString))}"
    }

    /// The compressed RLE of a row-major binary mask.
    public init(rowMajor mask: [Bool], height: Int, width: Int) {
        self.init(rowMajorMask: mask.map { $0 ? 1 : 0 }, height: height, width: width)
    }
}
