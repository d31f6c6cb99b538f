import Datasets
import Foundation
import Pipeline
import ToolSupport

/// One input image: its path, its index in the sorted list of images (the COCO `image_id`)
/// and the key that names its outputs (the file name without extension; the whole file name
/// when two images share a stem).
struct InputImage {
    var path: String
    var fileName: String
    var index: Int
    var key: String
}

/// The images to run on: a single image file, or the files of a folder (not recursive) whose
/// leading bytes sniff as an image format, in byte order of their names. Other files are
/// skipped with a note.
struct InputImages {
    var images: [InputImage]
    /// Names of the folder's files that are not images.
    var skipped: [String]

    static func collect(_ path: String) throws -> InputImages {
        guard FileIO.exists(path) else { throw ToolError("\(path): no such file or folder") }
        if !FileIO.isDirectory(path) {
            let format = try sniff(path)
            guard format != .unknown else {
                throw ToolError("\(path): not an image (its bytes are neither JPEG, PNG, GIF, BMP, TIFF nor WebP)")
            }
            let name = (path as NSString).lastPathComponent
            return InputImages(images: [InputImage(path: path, fileName: name, index: 0, key: stem(name))], skipped: [])
        }
        var names: [String] = []
        var skipped: [String] = []
        for name in try FileIO.listDirectory(path) {
            let full = FileIO.join(path, name)
            guard FileIO.isFile(full) else { continue }  // sub-folders are not searched
            if try sniff(full) == .unknown { skipped.append(name) } else { names.append(name) }
        }
        guard !names.isEmpty else {
            throw ToolError("\(path): no images in the folder (files are recognised by their bytes: JPEG or PNG)")
        }
        var stemCounts: [String: Int] = [:]
        for n in names { stemCounts[stem(n), default: 0] += 1 }
        var used: Set<String> = []
        var images: [InputImage] = []
        for (i, n) in names.enumerated() {
            var key = stemCounts[stem(n)]! > 1 ? n : stem(n)
            while used.contains(key) { key += "_\(i)" }
            used.insert(key)
            images.append(InputImage(path: FileIO.join(path, n), fileName: n, index: i, key: key))
        }
        return InputImages(images: images, skipped: skipped)
    }

    static func stem(_ name: String) -> String {
        let s = (name as NSString).deletingPathExtension
        return s.isEmpty ? name : s
    }

    /// The format of a file from its first bytes (only those are read).
    static func sniff(_ path: String) throws -> ImageFormat {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ToolError("\(path): cannot be read")
        }
        defer { try? handle.close() }
        let head: Data
        do {
            head = try handle.read(upToCount: 16) ?? Data()
        } catch {
            throw ToolError("\(path): cannot be read: \(error.localizedDescription)")
        }
        return ImageFormat.sniff([UInt8](head))
    }
}
