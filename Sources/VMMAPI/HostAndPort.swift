import NIOCore

/// A TCP address as people write it: `NAME:PORT`, `1.2.3.4:PORT` or `[::1]:PORT`.
public struct HostAndPort: Sendable, Hashable, CustomStringConvertible {
    /// A host name or an IP address (an IPv6 address without brackets).
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `text`; the error says what is wrong with it.
    public init(parsing text: String) throws(HostAndPortError) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw HostAndPortError(text: text, problem: "an IPv6 address must be followed by ]:PORT")
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw HostAndPortError(text: text, problem: "it has no :PORT") }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            guard !host.contains(":") else {
                throw HostAndPortError(text: text, problem: "write an IPv6 address in brackets, as [ADDRESS]:PORT")
            }
        }
        guard !host.isEmpty, !host.contains(where: { $0 == "/" || $0 == "@" || $0.isWhitespace }) else {
            throw HostAndPortError(text: text, problem: "the host is empty or not a host name or address")
        }
        guard let port = Int(portText), (1...65535).contains(port) else {
            throw HostAndPortError(text: text, problem: "the port must be a number from 1 to 65535")
        }
        self.init(host: String(host), port: port)
    }

    /// Whether `host` is an IP address rather than a name.
    public var hostIsAddress: Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }

    /// `host:port`, with an IPv6 address in brackets.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// Text that is not a `HOST:PORT`.
public struct HostAndPortError: Error, Equatable, Sendable, CustomStringConvertible {
    public let text: String
    public let problem: String

    public var description: String { "'\(text)' is not HOST:PORT: \(problem)" }
}
