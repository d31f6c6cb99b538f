extension VOCAnnotation {
    /// The annotation as a VOC XML document (the layout labelImg writes).
    public func xmlDocument(folder: String = "JPEGImages", path: String? = nil) -> String {
        var s = "<annotation>\n"
        s += "\t<folder>\(xmlEscape(self.folder ?? folder))</folder>\n"
        if let filename { s += "\t<filename>\(xmlEscape(filename))</filename>\n" }
        if let path { s += "\t<path>\(xmlEscape(path))</path>\n" }
        s += "\t<source>\n\t\t<database>Unknown</database>\n\t</source>\n"
        if let size {
            s += "\t<size>\n\t\t<width>\(size.width)</width>\n\t\t<height>\(size.height)</height>\n\t\t<depth>\(size.depth)</depth>\n\t</size>\n"
        }
        s += "\t<segmented>0</segmented>\n"
        for o in objects {
            s += "\t<object>\n"
            s += "\t\t<name>\(xmlEscape(o.name))</name>\n"
            s += "\t\t<pose>\(xmlEscape(o.pose ?? "Unspecified"))</pose>\n"
            s += "\t\t<truncated>\(o.truncated ? 1 : 0)</truncated>\n"
            s += "\t\t<difficult>\(o.difficult ? 1 : 0)</difficult>\n"
            s += "\t\t<bndbox>\n"
            s += "\t\t\t<xmin>\(o.box.xmin)</xmin>\n\t\t\t<ymin>\(o.box.ymin)</ymin>\n"
            s += "\t\t\t<xmax>\(o.box.xmax)</xmax>\n\t\t\t<ymax>\(o.box.ymax)</ymax>\n"
            s += "\t\t</bndbox>\n"
            s += "\t</object>\n"
        }
        s += "</annotation>\n"
        return s
    }
}

/// Escapes the five XML special characters (also right for HTML text and quoted attributes).
public func xmlEscape(_ s: String) -> String {
    var out = ""
    out.reserveCapacity(s.utf8.count)
    for c in s {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&apos;"
        default: out.append(c)
        }
    }
    return out
}
