extension HTTPClient {
    /// Where the daemon's API is: its local Unix socket, or a daemon's TCP port behind
    /// mutual TLS.
    public enum Endpoint: Sendable, Hashable, CustomStringConvertible {
        case unixSocket(path: String)
        case https(HostAndPort, tls: TLSFiles)

        /// `https://HOST:PORT` (a trailing `/` is allowed) with this host's TLS files.
        public static func https(url: String, tls: TLSFiles) throws(HostAndPortError) -> Endpoint {
            let scheme = "https://"
            guard url.lowercased().hasPrefix(scheme) else {
                throw HostAndPortError(text: url, problem: "the address must start with https://")
            }
            var rest = url.dropFirst(scheme.count)
            if rest.hasSuffix("/") { rest = rest.dropLast() }
            return .https(try HostAndPort(parsing: String(rest)), tls: tls)
        }

        /// The socket path or `https://HOST:PORT`, as error messages name the daemon.
        public var description: String {
            switch self {
            case .unixSocket(let path): return path
            case .https(let address, _): return "https://\(address)"
            }
        }

        /// Whether the daemon is reached over the network.
        public var isRemote: Bool {
            if case .https = self { return true }
            return false
        }
    }
}
