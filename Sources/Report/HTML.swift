import Datasets
import Foundation

/// Small HTML building blocks of the report: escaping, data URIs, the style sheet and the
/// table-sorting script, all inline (the page loads nothing).
enum HTML {
    /// A whole self-contained page: the head with the shared style, an `h1` with the title,
    /// `body`, and the sortable tables' script.
    static func page(title: String, body: String) -> String {
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            + "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            + "<title>\(escape(title))</title>\n<style>\n\(style)\n</style>\n</head>\n<body>\n"
            + "<h1>\(escape(title))</h1>\n" + body
            + "<script>\n\(sortScript)\n</script>\n</body>\n</html>\n"
    }

    /// Text with `& < > " '` escaped (Datasets' XML escaping), safe in element content and
    /// quoted attributes.
    static func escape(_ s: String) -> String { xmlEscape(s) }

    /// `data:<mime>;base64,...` of `bytes`.
    static func dataURI(_ bytes: [UInt8], mime: String) -> String {
        "data:\(mime);base64," + Data(bytes).base64EncodedString()
    }

    /// An image element with a data URI source.
    static func image(_ bytes: [UInt8], mime: String = "image/png", alt: String, cls: String = "figure") -> String {
        "<img class=\"\(cls)\" alt=\"\(escape(alt))\" src=\"\(dataURI(bytes, mime: mime))\">"
    }

    /// A table cell whose sort key is `value` (numbers sort numerically; NaN and -1 sort last).
    static func numberCell(_ text: String, _ value: Double) -> String {
        "<td data-value=\"\(value.isFinite ? "\(value)" : "")\">\(escape(text))</td>"
    }

    static let style = """
    body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
    h1{font-size:24px}h2{font-size:19px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
    table{border-collapse:collapse;font-size:13px;margin:8px 0}
    th,td{padding:3px 9px;border-bottom:1px solid #eee;text-align:right}
    th:first-child,td:first-child{text-align:left}
    table.sortable th{cursor:pointer;user-select:none;background:#f4f6f8}
    table.sortable th[aria-sort=ascending]::after{content:" \\25B2"}
    table.sortable th[aria-sort=descending]::after{content:" \\25BC"}
    .scroll{max-height:460px;overflow:auto;display:inline-block;border:1px solid #eee}
    .scroll thead th{position:sticky;top:0}
    img.figure{max-width:100%;border:1px solid #eee;margin:6px 0}
    .figures{display:flex;flex-wrap:wrap;gap:12px}.figures img{max-width:540px}
    .worst{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:14px}
    .worst figure{margin:0}.worst img{width:100%;border:1px solid #ddd}
    .worst figcaption{font-size:12px;color:#444}.note{color:#555;font-size:13px}
    """

    /// Sorts a `table.sortable` by the clicked header: numbers by each cell's `data-value`
    /// (empty last), text otherwise; a second click reverses. The header's `aria-sort` says how.
    static let sortScript = """
    (function () {
      function key(cell) {
        var v = cell.getAttribute("data-value");
        if (v === null) return cell.textContent.trim().toLowerCase();
        return v === "" ? null : parseFloat(v);
      }
      function compare(a, b, dir) {
        if (a === null && b === null) return 0;
        if (a === null) return 1;
        if (b === null) return -1;
        if (a < b) return -dir;
        if (a > b) return dir;
        return 0;
      }
      document.querySelectorAll("table.sortable").forEach(function (table) {
        var heads = table.tHead.rows[0].cells;
        Array.prototype.forEach.call(heads, function (th, col) {
          th.addEventListener("click", function () {
            var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
            Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
            th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
            var body = table.tBodies[0];
            var rows = Array.prototype.slice.call(body.rows).map(function (row, i) {
              return { row: row, key: key(row.cells[col]), index: i };
            });
            rows.sort(function (a, b) { return compare(a.key, b.key, dir) || a.index - b.index; });
            rows.forEach(function (r) { body.appendChild(r.row); });
          });
        });
      });
    })();
    """
}
