import Datasets
import Eval
import Foundation
import Plots

/// The images with the most errors, as the report shows them: ids and counts, and, with an
/// images folder, each image with its ground truth (thin boxes, "GT <class>") and its
/// detections above the score threshold ("<class> 0.87") drawn by `DetectionDrawing`; for a
/// segm analysis with their masks tinted as well (a mask whose size is not the image's is left
/// out, its box still drawn).
struct WorstImages {
    var analysis: DetectionAnalysis
    var groundTruth: COCOInstances
    var results: [COCOResult]
    var imagesDirectory: String?
    var count: Int

    /// The table of ids and counts, then the drawn images (or why an image is not shown).
    func html() -> String {
        let worst = analysis.worstImages(count)
        let threshold = analysis.perClass.scoreThreshold
        var out = "<p class=\"note\">The \(worst.count) images with the most false positives + false negatives "
            + "(detections scored above \(threshold), matched by COCOeval at IoU 0.5).</p>\n"
        guard !worst.isEmpty else { return out }
        var file: [Int64: String] = [:]
        for im in groundTruth.images where file[im.id] == nil { file[im.id] = im.fileName }
        out += "<table id=\"worst-images\" class=\"sortable\"><thead><tr><th>image id</th><th>file</th><th>GT</th>"
            + "<th>TP</th><th>FP</th><th>FN</th><th>FP + FN</th></tr></thead><tbody>\n"
        for w in worst {
            out += "<tr><td>\(w.imageId)</td><td>\(HTML.escape(file[w.imageId] ?? ""))</td>"
                + [w.groundTruths, w.truePositives, w.falsePositives, w.falseNegatives, w.errors]
                .map { HTML.numberCell(String($0), Double($0)) }.joined() + "</tr>\n"
        }
        out += "</tbody></table>\n"
        guard let imagesDirectory else {
            return out + "<p class=\"note\">Run with --images DIR to see these images with their boxes drawn.</p>\n"
        }
        out += "<div class=\"worst\">\n"
        for w in worst {
            let name = file[w.imageId] ?? ""
            let caption = "\(HTML.escape(name)) (id \(w.imageId)): \(w.falsePositives) FP, \(w.falseNegatives) FN"
            let path = FileIO.join(imagesDirectory, name)
            do {
                let jpeg = try ImageIO.encodeJPEG(drawn(imageId: w.imageId, path: path), quality: 85)
                out += "<figure>" + HTML.image(jpeg, mime: "image/jpeg", alt: name, cls: "worst-image")
                    + "<figcaption>\(caption)</figcaption></figure>\n"
            } catch {
                out += "<figure><figcaption>\(caption): not shown (\(HTML.escape(String(describing: error))))</figcaption></figure>\n"
            }
        }
        return out + "</div>\n"
    }

    /// The image at `path` with its ground truth and its detections above the threshold drawn.
    func drawn(imageId: Int64, path: String) throws -> RGBImage {
        let image = try ImageIO.load(path)
        var index: [Int64: Int] = [:], name: [Int64: String] = [:]
        for (k, id) in ConfusionMatrix.categoryIds(groundTruth).enumerated() { index[id] = k }
        for c in groundTruth.categories { name[c.id] = c.name }
        let masks = analysis.coco.params.iouType == .segm
        /// The drawn box (the mask's box when there is no `bbox`) and, for segm, the mask.
        func shape(_ bbox: COCOBox?, _ segmentation: COCOSegmentation?, _ category: Int64, _ label: String) -> DrawnDetection? {
            var mask: RLE?
            if masks, let segmentation {
                mask = RLE(segmentation: segmentation, height: image.height, width: image.width)
                    .flatMap { $0.height == image.height && $0.width == image.width ? $0 : nil }
            }
            guard let b = bbox ?? mask?.boundingBox else { return nil }
            return DrawnDetection(x0: b.x, y0: b.y, x1: b.x + b.width, y1: b.y + b.height, classIndex: index[category] ?? 0,
                                  label: label, mask: mask.map { $0.decodeRowMajor().map { $0 != 0 } })
        }
        let truths = groundTruth.annotations.filter { $0.imageId == imageId && !$0.isCrowd }.compactMap { a in
            shape(a.bbox, a.segmentation, a.categoryId, "GT " + (name[a.categoryId] ?? String(a.categoryId)))
        }
        let threshold = analysis.perClass.scoreThreshold
        let detections = results.filter { $0.imageId == imageId && $0.score > threshold }.compactMap { r in
            shape(r.bbox, r.segmentation, r.categoryId, (name[r.categoryId] ?? String(r.categoryId)) + String(format: " %.2f", r.score))
        }
        let style = DetectionStyle(imageWidth: image.width, imageHeight: image.height)
        let thin = DetectionStyle(lineWidth: 1, fontSize: style.fontSize, maskAlpha: style.maskAlpha)
        let withTruth = try DetectionDrawing.draw(truths, on: image, style: thin)
        return try DetectionDrawing.draw(detections, on: withTruth, style: style)
    }
}
