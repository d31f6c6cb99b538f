import Datasets
import Foundation
import Model

/// `detections.json`: the COCO results format (a list of {image_id, category_id, bbox
/// [x, y, w, h], score}) with two extra keys for people reading it, `file_name` and
/// `category_name`. image_id is the image's 0-based index in the sorted list of images and
/// category_id the class index in the order of the class names. With masks (a segmentation
/// head, a mask classifier) each entry has the COCO `segmentation`, the mask as compressed RLE
/// {"size": [h, w], "counts": ...} at the image's size.
struct DetectionsJSON {
    private var entries: [String] = []

    var count: Int { entries.count }

    mutating func append(_ detections: [Detection], masks: [[Bool]]? = nil, size: (height: Int, width: Int),
                         image: InputImage, classNames: [String]) {
        for (k, d) in detections.enumerated() {
            let b = d.box
            let bbox = [b.x0, b.y0, b.x1 - b.x0, b.y1 - b.y0].map(Self.number).joined(separator: ", ")
            let name = d.label < classNames.count ? classNames[d.label] : "class\(d.label)"
            entries.append("{\"image_id\": \(image.index), \"category_id\": \(d.label), \"bbox\": [\(bbox)], "
                + "\"score\": \(Self.number(d.score)), \"file_name\": \(jsonString(image.fileName)), "
                + "\"category_name\": \(jsonString(name))" + segmentation(masks?[k], size) + "}")
        }
    }

    /// `, "segmentation": {...}` for a mask, empty without one.
    func segmentation(_ mask: [Bool]?, _ size: (height: Int, width: Int)) -> String {
        guard let mask, mask.count == size.height * size.width else { return "" }
        return ", \"segmentation\": " + RLE(rowMajor: mask, height: size.height, width: size.width).resultJSON
    }

    var text: String {
        entries.isEmpty ? "[]\n" : "[\n  " + entries.joined(separator: ",\n  ") + "\n]\n"
    }

    /// The shortest decimal that reads back as the same Float; `null` for NaN or infinity
    /// (which JSON cannot hold).
    static func number(_ x: Float) -> String {
        x.isFinite ? "\(x)" : "null"
    }
}
