import Datasets
import Eval
import Foundation
import Model
import Pipeline
import Plots
import Tensor
import ToolSupport

/// The per-image outputs of `predict`: the drawn PNG, crops, counts and raw tensors.
enum PredictOutputs {
    /// The detections as the drawing API takes them ("name 0.87" labels, masks if any), the
    /// lowest score first so that the best detections are drawn on top.
    static func drawn(_ result: DetectionResult, classNames: [String]) -> [DrawnDetection] {
        let order = result.detections.indices.sorted { result.detections[$0].score < result.detections[$1].score }
        return order.map { k in
            let d = result.detections[k]
            return DrawnDetection(x0: Double(d.box.x0), y0: Double(d.box.y0), x1: Double(d.box.x1), y1: Double(d.box.y1),
                           classIndex: d.label, label: "\(name(d.label, classNames)) \(String(format: "%.2f", d.score))",
                           mask: result.masks?[k])
        }
    }

    static func name(_ label: Int, _ classNames: [String]) -> String {
        label >= 0 && label < classNames.count ? classNames[label] : "class\(label)"
    }

    /// The image with its detections drawn, written as `<out>/<key>.png`.
    static func writeDrawing(_ image: RGBImage, _ result: DetectionResult, classNames: [String], key: String, out: String) throws {
        let path = FileIO.join(out, key + ".png")
        let drawnImage: RGBImage
        do {
            drawnImage = try DetectionDrawing.draw(drawn(result, classNames: classNames), on: image)
        } catch {
            throw ToolError("\(path): \(error)")
        }
        try ImageIO.save(drawnImage, to: path)
    }

    /// One PNG per detection, cut from the original image (the pixels the box covers:
    /// columns floor(x0)..<ceil(x1), rows likewise), as `<crops>/<key>_<k>_<class>.png`.
    /// Returns the number written.
    @discardableResult
    static func writeCrops(_ image: RGBImage, _ detections: [Detection], classNames: [String], key: String, folder: String) throws -> Int {
        var written = 0
        for (k, d) in detections.enumerated() {
            guard let r = DetectionDrawing.pixelRect(x0: Double(d.box.x0), y0: Double(d.box.y0), x1: Double(d.box.x1),
                                                     y1: Double(d.box.y1), width: image.width, height: image.height) else { continue }
            var px = [UInt8](repeating: 0, count: r.width * r.height * 3)
            for y in 0..<r.height {
                let src = 3 * ((r.y + y) * image.width + r.x)
                px.replaceSubrange(3 * y * r.width..<3 * (y + 1) * r.width, with: image.pixels[src..<src + 3 * r.width])
            }
            let crop = RGBImage(width: r.width, height: r.height, pixels: px)
            let safeName = name(d.label, classNames).map { $0 == "/" || $0 == " " ? "_" : $0 }
            try ImageIO.save(crop, to: FileIO.join(folder, "\(key)_\(k)_\(String(safeName)).png"))
            written += 1
        }
        return written
    }

    /// "circle 2, square 1" in class order; "none" when empty.
    static func countLine(_ counts: [Int], classNames: [String]) -> String {
        let parts = counts.enumerated().filter { $0.element > 0 }.map { "\(name($0.offset, classNames)) \($0.element)" }
        return parts.isEmpty ? "none" : parts.joined(separator: ", ")
    }

    /// The raw tensors of one image for `--raw`: `<key>/input`, `<key>/mask` (0/1 floats),
    /// `<key>/pred_logits`, `<key>/pred_boxes` and, with a mask head, `<key>/pred_masks`.
    static func rawTensors(_ p: PreparedImage, _ out: DETROutput, key: String) -> [String: Tensor] {
        var t: [String: Tensor] = [
            "\(key)/input": p.input,
            "\(key)/mask": p.mask.asFloat,
            "\(key)/pred_logits": out.logits,
            "\(key)/pred_boxes": out.boxes,
        ]
        if let m = out.masks { t["\(key)/pred_masks"] = m }
        return t
    }
}
