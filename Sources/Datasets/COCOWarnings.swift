/// Warning lines, with repeats of the same kind summarised after the first few.
struct COCOWarnings {
    private var kept: [String] = []
    var suppressed = 0

    var lines: [String] { suppressed == 0 ? kept : kept + ["... and \(suppressed) more warnings"] }

    mutating func add(_ line: String) {
        if kept.count < 20 { kept.append(line) } else { suppressed += 1 }
    }

    /// One warning per annotation whose id an earlier one already has: pycocotools (and the
    /// COCO evaluation, which follows it) read every annotation with that id as the last one.
    mutating func addRepeatedAnnotationIds(_ annotations: [COCOAnnotation], path: String) {
        var first: [Int64: Int] = [:]
        for (n, a) in annotations.enumerated() {
            if let f = first[a.id] {
                add("\(path): annotations[\(n)].id: \(a.id) repeats annotations[\(f)].id; pycocotools reads both as the last annotation with that id")
            } else {
                first[a.id] = n
            }
        }
    }
}
