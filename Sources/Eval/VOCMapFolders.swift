import Datasets
import Foundation

/// The writing side of the Cartucho/mAP text folders that `VOCMapInput` reads: the lines of
/// `detection-results/<id>.txt` and `ground-truth/<id>.txt` as the reference get_map.py writes
/// them, and the clean-up that keeps a folder to one image set.
public enum VOCMapFolders {
    /// One line of a detection file as the reference's `get_map_txt` writes it:
    /// `"%s %s %s %s %s %s" % (class, str(score)[:6], int(left), int(top), int(right), int(bottom))`,
    /// where `str` of a float32 is its shortest round-trip form and `int` truncates toward zero.
    /// Nil for a non-finite box.
    public static func detectionLine(className: String, score: Float, x0: Float, y0: Float, x1: Float, y1: Float) -> String? {
        let coords = [x0, y0, x1, y1]
        guard coords.allSatisfy({ $0.isFinite && abs($0) < 1e15 }), score.isFinite else { return nil }
        let scoreText = String(score.description.prefix(6))
        return "\(className) \(scoreText) " + coords.map { String(Int($0)) }.joined(separator: " ")
    }

    /// The ground-truth file of one annotation: `class left top right bottom`, with ` difficult`
    /// appended for difficult objects; objects of classes not in `known` are left out and
    /// counted by name.
    public static func groundTruthText(_ annotation: VOCAnnotation, known: Set<String>) -> (text: String, unknown: [String: Int]) {
        var text = ""
        var unknown: [String: Int] = [:]
        for object in annotation.objects {
            guard known.contains(object.name) else {
                unknown[object.name, default: 0] += 1
                continue
            }
            let b = object.box
            text += "\(object.name) \(b.xmin) \(b.ymin) \(b.xmax) \(b.ymax)" + (object.difficult ? " difficult\n" : "\n")
        }
        return (text, unknown)
    }

    /// Removes `<folder>/*.txt` files whose id is not in `ids` (left by a run on another split)
    /// and returns how many went.
    public static func removeFiles(in folder: String, notIn ids: [String]) throws -> Int {
        guard FileIO.isDirectory(folder) else { return 0 }
        let keep = Set(ids.map { $0 + ".txt" })
        var removed = 0
        for name in try FileIO.listDirectory(folder) where name.hasSuffix(".txt") && !keep.contains(name) {
            let path = FileIO.join(folder, name)
            do {
                try FileManager.default.removeItem(atPath: path)
            } catch {
                throw DatasetError.unwritableFile(path: path, reason: "\(error.localizedDescription) (removing a file of another run)")
            }
            removed += 1
        }
        return removed
    }
}
