/// Text as man(7) source needs it.
enum ManualText {
    /// Escapes backslashes and dashes, and keeps a line from starting with a control character.
    static func escape(_ text: String) -> String {
        let escaped = text.replacingAll("\\", with: "\\e").replacingAll("-", with: "\\-")
        return escaped.hasPrefix(".") || escaped.hasPrefix("'") ? "\\&" + escaped : escaped
    }

    /// `.PP` before each paragraph (a line of `text`).
    static func paragraphs(_ text: String) -> [String] {
        text.split(separator: "\n").flatMap { [".PP", escape(String($0))] }
    }
}

extension String {
    /// Every occurrence of `target` replaced (the standard library has no such method
    /// without Foundation).
    fileprivate func replacingAll(_ target: Character, with replacement: String) -> String {
        var result = ""
        for character in self { if character == target { result += replacement } else { result.append(character) } }
        return result
    }
}
