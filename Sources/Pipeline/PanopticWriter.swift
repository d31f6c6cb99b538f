import Datasets
import Foundation
import Model

/// Panoptic predictions written as COCO panoptic results, what `get-map panoptic` (and
/// panopticapi) read: a PNG per image whose pixels hold segment ids as R + 256 G + 256^2 B
/// (0 = void), in a folder, and a JSON file of the images' `segments_info`.
public enum PanopticWriter {
    /// One image's prediction and where it goes.
    public struct Item {
        public var imageID: PanopticImageID
        /// The PNG's name inside the folder (`000123.png`).
        public var fileName: String
        public var prediction: PanopticPrediction

        public init(imageID: PanopticImageID, fileName: String, prediction: PanopticPrediction) {
            self.imageID = imageID
            self.fileName = fileName
            self.prediction = prediction
        }
    }

    /// Writes the PNGs into `folder` (created if needed) and the JSON to `json` (atomically).
    /// A segment's `category_id` is `categoryIDs[model class]` (COCO's ids are not contiguous);
    /// `categories`, when given, are written too (a ground-truth file needs them).
    public static func write(_ items: [Item], categoryIDs: [Int], categories: [PanopticCategory]? = nil,
                             json: String, folder: String) throws {
        try FileIO.makeDirectories(folder)
        var annotations: [String] = []
        for item in items {
            let p = item.prediction
            guard p.ids.count == p.height * p.width, p.height > 0, p.width > 0 else {
                throw DatasetError.unwritableFile(path: FileIO.join(folder, item.fileName),
                                                  reason: "\(p.ids.count) segment ids for a \(p.width)x\(p.height) image")
            }
            var segments: [String] = []
            for s in p.segments {
                guard s.categoryId >= 0 && s.categoryId < categoryIDs.count else {
                    throw DatasetError.unwritableFile(path: json, reason: "class \(s.categoryId) has no category id (\(categoryIDs.count) given)")
                }
                segments.append("{\"id\": \(s.id), \"category_id\": \(categoryIDs[s.categoryId]), \"iscrowd\": 0, \"area\": \(s.area)}")
            }
            let png = try ImageIO.encodePNG(pixels: p.rgb, width: p.width, height: p.height, channels: 3)
            try FileIO.writeAtomically(FileIO.join(folder, item.fileName), bytes: png)
            let id: String
            switch item.imageID {
            case let .int(i): id = String(i)
            case let .string(s): id = jsonString(s)
            }
            annotations.append("{\"image_id\": \(id), \"file_name\": \(jsonString(item.fileName)), \"segments_info\": [\(segments.joined(separator: ", "))]}")
        }
        var text = "{\"annotations\": [\n" + annotations.joined(separator: ",\n") + "\n]"
        if let categories {
            let list = categories.map { "{\"id\": \($0.id), \"name\": \(jsonString($0.name)), \"isthing\": \($0.isThing)}" }
            text += ",\n\"categories\": [" + list.joined(separator: ", ") + "]"
        }
        try FileIO.writeAtomically(json, text: text + "}\n")
    }
}
