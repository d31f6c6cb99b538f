import Datasets
import Foundation

// Text outputs of the VOC metric: the reference's results.txt and console lines, and the
// JSON of `get-map voc --json`.

extension VOCMapResult {
    /// `results/results.txt` in the reference's format (AP and the precision/recall lists per
    /// class, the mAP, ground-truth counts, detection counts with TP and FP).
    ///
    /// As in the reference, "fp" in the detection counts is detections minus true positives
    /// (detections ignored on a difficult object count there); the JSON reports true FPs.
    public func resultsText() -> String {
        var s = "# AP and precision/recall per class\n"
        for c in classes {
            let p = c.precision.map { "'\(fixed2($0))'" }.joined(separator: ", ")
            let r = c.recall.map { "'\(fixed2($0))'" }.joined(separator: ", ")
            s += "\(apText(c))\n Precision: [\(p)]\n Recall :[\(r)]\n\n"
        }
        s += "\n# mAP of all classes\n"
        s += "mAP = \(fixed2(mAP * 100))%\n"
        s += "\n# Number of ground-truth objects per class\n"
        for name in groundTruthCounts.keys.sorted(by: utf8Less) {
            s += "\(name): \(groundTruthCounts[name]!)\n"
        }
        s += "\n# Number of detected objects per class\n"
        let tpByName = Dictionary(uniqueKeysWithValues: classes.map { ($0.name, $0.truePositives) })
        for name in detectionCounts.keys.sorted(by: utf8Less) {
            let n = detectionCounts[name]!
            let tp = tpByName[name] ?? 0
            s += "\(name): \(n) (tp:\(tp), fp:\(n - tp))\n"
        }
        return s
    }

    /// `"31.05% = chair AP "`: the per-class head line of the reference.
    func apText(_ c: VOCClassResult) -> String {
        "\(fixed2(c.ap * 100))% = \(c.name) AP "
    }

    /// The console lines of the reference: one per class, then the mAP.
    public func consoleLines() -> [String] {
        var lines: [String] = []
        let thr = "\(options.scoreThreshold)"
        for c in classes {
            if c.detectionCount > 0 && !c.precision.isEmpty {
                lines.append(apText(c) + "\t||\tscore_threhold=\(thr) : F1=\(fixed2(c.f1AtThreshold))"
                             + " ; Recall=\(fixed2(c.recallAtThreshold * 100))% ; Precision=\(fixed2(c.precisionAtThreshold * 100))%")
            } else {
                lines.append(apText(c) + "\t||\tscore_threhold=\(thr) : F1=0.00% ; Recall=0.00% ; Precision=0.00%")
            }
        }
        lines.append("mAP = \(fixed2(mAP * 100))%")
        return lines
    }

    /// All numbers as JSON, fractions in [0, 1], classes keyed by name:
    /// `{"mAP", "iou", "score_threshold", "eleven_point", "per_class": {name: {"ap", "tp", "fp",
    /// "n_gt", "n_det", "precision", "recall", "f1"}}, "detected_classes_without_ground_truth": {name: n}}`.
    /// precision, recall and f1 are those at the score threshold; tp and fp count all detections.
    public func jsonText() -> String {
        var s = "{\n  \"mAP\": \(jsonNumber(mAP)),\n  \"iou\": \(jsonNumber(options.minOverlap)),\n"
        s += "  \"score_threshold\": \(jsonNumber(options.scoreThreshold)),\n"
        s += "  \"eleven_point\": \(options.elevenPoint),\n"
        s += "  \"n_images\": \(imageCount),\n"
        s += "  \"per_class\": {"
        for (i, c) in classes.enumerated() {
            s += i == 0 ? "\n" : ",\n"
            s += "    \(jsonString(c.name)): {\"ap\": \(jsonNumber(c.ap)), \"tp\": \(c.truePositives), "
            s += "\"fp\": \(c.falsePositives), \"n_gt\": \(c.groundTruthCount), \"n_det\": \(c.detectionCount), "
            s += "\"precision\": \(jsonNumber(c.precisionAtThreshold)), \"recall\": \(jsonNumber(c.recallAtThreshold)), "
            s += "\"f1\": \(jsonNumber(c.f1AtThreshold))}"
        }
        s += classes.isEmpty ? "},\n" : "\n  },\n"
        s += "  \"detected_classes_without_ground_truth\": {"
        let extra = classesWithoutGroundTruth
        s += extra.map { "\(jsonString($0)): \(detectionCounts[$0]!)" }.joined(separator: ", ")
        s += "}\n}\n"
        return s
    }
}

/// `%.2f` (C's rounding of the exact binary value, as Python's format does).
func fixed2(_ x: Double) -> String { String(format: "%.2f", x) }

/// `%.1f`.
func fixed1(_ x: Double) -> String { String(format: "%.1f", x) }

/// A JSON number: the shortest text that reads back as the same Double.
func jsonNumber(_ x: Double) -> String {
    guard x.isFinite else { return "null" }
    if x == x.rounded() && abs(x) < 1e15 { return String(format: "%.1f", x) }
    return "\(x)"
}

