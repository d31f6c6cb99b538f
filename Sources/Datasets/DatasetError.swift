/// Every error the data-set readers and writers throw. Each case names the file (and where
/// it helps, the line or XML element) so that a tool can print one clear line.
public enum DatasetError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The file could not be opened or read.
    case unreadableFile(path: String, reason: String)
    /// A file could not be written (the previous content, if any, is left intact).
    case unwritableFile(path: String, reason: String)
    /// The bytes are not an image format we decode (sniffed from the content, not the name).
    case unsupportedImageFormat(path: String, detected: String)
    /// The image decoder failed (corrupt or truncated data).
    case corruptImage(path: String, format: String, reason: String)
    /// An image whose header claims more than `ImageIO.maxPixels` pixels (refused before decoding).
    case imageTooLarge(path: String, width: Int, height: Int)
    /// The XML is not well-formed.
    case malformedXML(path: String, line: Int, reason: String)
    /// The XML is well-formed but an element is missing or has a bad value.
    case invalidAnnotation(path: String, element: String, reason: String)
    /// A classes file problem (duplicate name, no classes).
    case invalidClassesFile(path: String, line: Int, reason: String)
    /// A line of the annotation-lines format (`2007_train.txt`) cannot be parsed or written.
    case invalidAnnotationLine(path: String, line: Int, reason: String)
    /// A VOCdevkit folder is missing something it needs.
    case invalidDevkit(path: String, reason: String)
    /// A PNG read for palette indices (segmentation masks) that is neither a palette PNG nor an
    /// 8-bit gray one; `layout` says what it is ("8-bit RGB").
    case notIndexedImage(path: String, layout: String)
    /// A segmentation mask that does not fit its image or annotation (size, object index).
    case invalidSegmentation(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadableFile(path, reason):
            return "\(path): cannot read: \(reason)"
        case let .unwritableFile(path, reason):
            return "\(path): cannot write: \(reason)"
        case let .unsupportedImageFormat(path, detected):
            return "\(path): unsupported image format (\(detected)); JPEG and PNG are decoded"
        case let .corruptImage(path, format, reason):
            return "\(path): corrupt \(format) image: \(reason)"
        case let .imageTooLarge(path, width, height):
            return "\(path): image of \(width)x\(height) pixels is over the limit of \(ImageIO.maxPixels) pixels (PIL's decompression-bomb limit); not decoded"
        case let .malformedXML(path, line, reason):
            return "\(path):\(line): malformed XML: \(reason)"
        case let .invalidAnnotation(path, element, reason):
            return "\(path): <\(element)>: \(reason)"
        case let .invalidClassesFile(path, line, reason):
            return "\(path):\(line): \(reason)"
        case let .invalidAnnotationLine(path, line, reason):
            return "\(path):\(line): \(reason)"
        case let .invalidDevkit(path, reason):
            return "\(path): \(reason)"
        case let .notIndexedImage(path, layout):
            return "\(path): the PNG is \(layout), not palette (or 8-bit gray): segmentation masks need palette indices"
        case let .invalidSegmentation(path, reason):
            return "\(path): \(reason)"
        }
    }

    /// The file the error is about.
    public var path: String {
        switch self {
        case let .unreadableFile(path, _), let .unwritableFile(path, _),
             let .unsupportedImageFormat(path, _), let .corruptImage(path, _, _), let .imageTooLarge(path, _, _),
             let .malformedXML(path, _, _), let .invalidAnnotation(path, _, _),
             let .invalidClassesFile(path, _, _), let .invalidAnnotationLine(path, _, _),
             let .invalidDevkit(path, _), let .notIndexedImage(path, _), let .invalidSegmentation(path, _):
            return path
        }
    }
}
