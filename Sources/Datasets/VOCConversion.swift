import Dispatch

/// A box flagged by the check of a conversion.
public struct SuspiciousBox: Equatable, Sendable {
    public var id: String
    public var objectName: String
    public var box: PixelBox
    public var problems: [BoxProblem]
    public var imageSize: ImageSize?
}

/// An image whose decoded size differs from its XML `<size>`, or that fails to decode.
public struct ImageMismatch: Equatable, Sendable {
    public var id: String
    public var imagePath: String
    public var message: String
}

/// The result of converting VOC annotations to annotation lines (one image set).
public struct VOCConversion: Sendable {
    /// One line per id, in the order of the ids given.
    public var lines: [AnnotationLine] = []
    /// Objects written per class id.
    public var classCounts: [Int]
    /// Object names not in the classes file, with their counts.
    public var unknownNames: [String: Int] = [:]
    /// Objects left out because `difficult == 1`.
    public var difficultSkipped = 0
    /// Ids whose image file is missing from JPEGImages (left out of `lines`).
    public var missingImages: [String] = []
    /// Boxes with a problem (zero area, inverted, outside the image); they stay in `lines`,
    /// as the reference writes them.
    public var suspicious: [SuspiciousBox] = []
    /// Images that failed to decode or whose size differs from the XML (with `decodeImages`).
    public var imageMismatches: [ImageMismatch] = []

    public init(classCount: Int) {
        classCounts = [Int](repeating: 0, count: classCount)
    }

    public var objectCount: Int { classCounts.reduce(0, +) }
}

extension VOCDevkit {
    /// Converts the annotations of `ids` to annotation lines, as the reference
    /// voc_annotation.py: objects with `difficult == 1` and objects of unknown classes are left
    /// out; an image without objects still gets a path-only line; the image path is absolute
    /// and uses the real file's extension.
    ///
    /// - `imageFiles`: `imageFiles()` of this devkit (passed in so that it is listed once).
    /// - `checkBoxes`: flag zero-area, inverted and out-of-image boxes (reads the image header
    ///   when the XML has no size).
    /// - `decodeImages`: decode every image and compare its size with the XML's `<size>`.
    /// - `threads`: decoding threads.
    public func convert(ids: [String], classes: ClassList, imageFiles: [String: String],
                        checkBoxes: Bool = false, decodeImages: Bool = false, threads: Int = 1) throws -> VOCConversion {
        var result = VOCConversion(classCount: classes.count)
        var annotations: [(id: String, image: String, ann: VOCAnnotation)] = []
        for id in ids {
            guard let file = imageFiles[id] else {
                result.missingImages.append(id)
                continue
            }
            let imagePath = FileIO.join(imagesDirectory, file)
            let ann = try VOCAnnotation.load(annotationPath(id), sizeFromImage: checkBoxes ? imagePath : nil)
            annotations.append((id, imagePath, ann))
            var boxes: [LabeledBox] = []
            for obj in ann.objects {
                if obj.difficult {
                    result.difficultSkipped += 1
                    continue
                }
                guard let cls = classes.id(of: obj.name) else {
                    result.unknownNames[obj.name, default: 0] += 1
                    continue
                }
                boxes.append(LabeledBox(box: obj.box, classId: cls))
                result.classCounts[cls] += 1
                if checkBoxes {
                    let problems = boxProblems(obj.box, size: ann.size)
                    if !problems.isEmpty {
                        result.suspicious.append(SuspiciousBox(id: id, objectName: obj.name, box: obj.box,
                                                               problems: problems, imageSize: ann.size))
                    }
                }
            }
            result.lines.append(AnnotationLine(imagePath: imagePath, boxes: boxes))
        }
        if decodeImages {
            result.imageMismatches = Self.verifyImages(annotations.map { ($0.id, $0.image, $0.ann.size) }, threads: threads)
        }
        return result
    }

    /// Decodes every image (in parallel) and reports failures and size mismatches, in input order.
    static func verifyImages(_ items: [(id: String, image: String, size: ImageSize?)], threads: Int) -> [ImageMismatch] {
        final class Box: @unchecked Sendable { var value: [ImageMismatch?] = [] }
        let out = Box()
        out.value = [ImageMismatch?](repeating: nil, count: items.count)
        let workers = max(1, min(threads, items.count))
        let lock = DispatchSemaphore(value: 1)
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            var i = w
            while i < items.count {
                let item = items[i]
                var problem: ImageMismatch? = nil
                do {
                    let img = try ImageIO.load(item.image)
                    if let s = item.size, s.width != img.width || s.height != img.height {
                        problem = ImageMismatch(id: item.id, imagePath: item.image,
                                                message: "decoded size \(img.width)x\(img.height) differs from the XML size \(s.width)x\(s.height)")
                    }
                } catch {
                    // The report prints the path before the message: keep the reason only.
                    let text = "\(error)", prefix = item.image + ": "
                    problem = ImageMismatch(id: item.id, imagePath: item.image,
                                            message: text.hasPrefix(prefix) ? String(text.dropFirst(prefix.count)) : text)
                }
                if let problem {
                    lock.wait()
                    out.value[i] = problem
                    lock.signal()
                }
                i += workers
            }
        }
        return out.value.compactMap { $0 }
    }
}
