import VMMAPI

/// Another daemon's TCP API address, `HOST:PORT` (an IPv6 host in brackets).
struct PeerAddress: Sendable, Hashable, CustomStringConvertible {
    let host: String
    let port: Int

    /// Parses `text`; a 400 naming the expected form if it is not one.
    init(_ text: String) throws {
        let invalid = APIError(
            code: .badRequest, message: "invalid daemon address \"\(text)\": use HOST:PORT, e.g. 10.0.0.2:7443 or [fd00::2]:7443")
        guard let colon = text.lastIndex(of: ":") else { throw invalid }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, host.allSatisfy({ $0.isLetter || $0.isNumber || ".-:_".contains($0) }),
              let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port)
        else { throw invalid }
        self.host = host
        self.port = port
    }

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
