import Foundation

/// One HTTP exchange with the daemon.
struct HTTPResult {
    var status: Int
    var body: Data
    /// The response's header fields, names in lower case (empty when not recorded).
    var headers: [String: String] = [:]

    var text: String { String(decoding: body, as: UTF8.self) }

    /// The body as a JSON object (empty if it is not one).
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
    }

    /// `state` of a VMInfo body.
    var state: String? { json["state"] as? String }

    /// `error.code` of an error body.
    var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }

    /// The header fields of a response head as curl's `-D` writes it.
    static func headers(_ data: Data) -> [String: String] {
        var fields: [String: String] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\r\n").dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return fields
    }
}
