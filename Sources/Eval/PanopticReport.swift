import Datasets
import Foundation

// Text outputs of panoptic quality: panopticapi's printed table and the JSON of
// `get-map panoptic --json`.

extension PanopticResult {
    /// panopticapi's table:
    ///
    ///           |    PQ     SQ     RQ     N
    ///     --------------------------------------
    ///     All       |  23.3   30.8   31.6    14
    public func tableText() -> String {
        func pad(_ s: String, _ w: Int, right: Bool) -> String {
            let fill = String(repeating: " ", count: max(0, w - s.count))
            return right ? fill + s : s + fill
        }
        var s = "\(pad("", 10, right: false))| \(pad("PQ", 5, right: true))  \(pad("SQ", 5, right: true))  "
        s += "\(pad("RQ", 5, right: true)) \(pad("N", 5, right: true))\n"
        s += String(repeating: "-", count: 10 + 7 * 4) + "\n"
        for (name, r) in [("All", all), ("Things", things), ("Stuff", stuff)] {
            s += "\(pad(name, 10, right: false))| \(pad(fixed1(100 * r.pq), 5, right: true))  "
            s += "\(pad(fixed1(100 * r.sq), 5, right: true))  \(pad(fixed1(100 * r.rq), 5, right: true)) "
            s += "\(pad(String(r.n), 5, right: true))\n"
        }
        return s
    }

    /// All numbers as JSON, fractions in [0, 1]:
    /// `{"All": {"pq", "sq", "rq", "n"}, "Things": ..., "Stuff": ..., "per_class": {name: {"pq", "sq", "rq"}}}`.
    /// per_class holds every ground-truth category (zeros where it has no TP, FP or FN, as
    /// panopticapi reports them); a repeated name is suffixed with its category id.
    public func jsonText() -> String {
        func scores(_ r: PanopticScores) -> String {
            "{\"pq\": \(jsonNumber(r.pq)), \"sq\": \(jsonNumber(r.sq)), \"rq\": \(jsonNumber(r.rq)), \"n\": \(r.n)}"
        }
        var s = "{\n  \"All\": \(scores(all)),\n  \"Things\": \(scores(things)),\n  \"Stuff\": \(scores(stuff)),\n"
        s += "  \"n_images\": \(imageCount),\n  \"per_class\": {"
        var seen = Set<String>()
        for (i, entry) in perCategory.enumerated() {
            var name = entry.category.name
            if seen.contains(name) { name += " (id \(entry.category.id))" }
            seen.insert(name)
            let st = stats[entry.category.id] ?? PanopticCategoryStat()
            s += i == 0 ? "\n" : ",\n"
            s += "    \(jsonString(name)): {\"pq\": \(jsonNumber(entry.scores.pq)), \"sq\": \(jsonNumber(entry.scores.sq)), "
            s += "\"rq\": \(jsonNumber(entry.scores.rq)), \"id\": \(entry.category.id), \"isthing\": \(entry.category.isThing == 1), "
            s += "\"tp\": \(st.tp), \"fp\": \(st.fp), \"fn\": \(st.fn)}"
        }
        s += perCategory.isEmpty ? "}\n}\n" : "\n  }\n}\n"
        return s
    }
}
