/// Column layout of help text.
enum HelpLayout {
    static let width = 80
    /// Where an entry's text starts; labels that leave no space before it get a line of their own.
    static let textColumn = 26

    /// `  label     text...` with the text wrapped in its column; ends with a newline.
    static func entry(_ label: String, _ text: String) -> String {
        let indent = String(repeating: " ", count: textColumn)
        let lines = wrap(text, width: width - textColumn).split(separator: "\n", omittingEmptySubsequences: false)
        let head = "  " + label
        var result: String
        var rest = lines[...]
        if head.count < textColumn {
            result = head + String(repeating: " ", count: textColumn - head.count) + (rest.popFirst() ?? "") + "\n"
        } else {
            result = head + "\n"
        }
        for line in rest { result += indent + line + "\n" }
        return result
    }

    /// `text` on lines of at most `width` characters, broken at the last space that fits
    /// (a word longer than a line gets one of its own); newlines in `text` are kept. As
    /// swift-argument-parser does it: a line followed by more text stays below `width`.
    static func wrap(_ text: String, width: Int) -> String {
        var lines: [Substring] = []
        var rest = text[...]
        while true {
            let chunk = rest.prefix(width)
            if let lineBreak = chunk.lastIndex(of: "\n") {
                lines += rest[..<lineBreak].split(separator: "\n", omittingEmptySubsequences: false)
                rest = rest[rest.index(after: lineBreak)...]
            } else if chunk.endIndex == rest.endIndex {
                lines.append(rest)
                break
            } else if let space = chunk.lastIndex(of: " ") ?? rest.firstIndex(of: " ") {
                lines.append(rest[..<space])
                rest = rest[rest.index(after: space)...]
            } else {
                lines.append(rest)
                break
            }
        }
        return lines.joined(separator: "\n")
    }
}
