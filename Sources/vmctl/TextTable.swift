/// Plain-text layouts for people: aligned columns and `key: value` lines.
enum TextTable {
    /// `rows` under `header`, each column as wide as its widest cell, two spaces apart;
    /// no trailing spaces.
    static func columns(header: [String], rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(to: widths[column])
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    /// One `key: value` line per field, the values aligned.
    static func fields(_ fields: [(key: String, value: String)]) -> String {
        let width = (fields.map { $0.key.count }.max() ?? 0) + 1
        return fields.map { "\(($0.key + ":").padding(to: width)) \($0.value)" }.joined(separator: "\n")
    }
}

extension String {
    fileprivate func padding(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
