extension HTTPClient {
    /// Where the server is: the daemon's local Unix socket, a daemon's TCP port behind
    /// mutual TLS, or a plain HTTP port (an etcd member on loopback).
    public enum Endpoint: Sendable, Hashable, CustomStringConvertible {
        case unixSocket(path: String)
        case https(HostAndPort, tls: TLSFiles)
        case http(HostAndPort)

        /// `https://HOST:PORT` (a trailing `/` is allowed) with this host's TLS files.
        public static func https(url: String, tls: TLSFiles) throws(HostAndPortError) -> Endpoint {
            .https(try address(in: url, scheme: "https://"), tls: tls)
        }

        /// `http://HOST:PORT`, or `https://HOST:PORT` with `tls` (a trailing `/` is
        /// allowed): the form etcd's endpoints are written in.
        public static func url(_ url: String, tls: TLSFiles?) throws(HostAndPortError) -> Endpoint {
            guard url.lowercased().hasPrefix("https://") else { return .http(try address(in: url, scheme: "http://")) }
            guard let tls else { throw HostAndPortError(text: url, problem: "an https:// address needs TLS files") }
            return try .https(url: url, tls: tls)
        }

        private static func address(in url: String, scheme: String) throws(HostAndPortError) -> HostAndPort {
            guard url.lowercased().hasPrefix(scheme) else {
                throw HostAndPortError(text: url, problem: "the address must start with \(scheme)")
            }
            var rest = url.dropFirst(scheme.count)
            if rest.hasSuffix("/") { rest = rest.dropLast() }
            return try HostAndPort(parsing: String(rest))
        }

        /// The socket path or `http(s)://HOST:PORT`, as error messages name the server.
        public var description: String {
            switch self {
            case .unixSocket(let path): return path
            case .https(let address, _): return "https://\(address)"
            case .http(let address): return "http://\(address)"
            }
        }

        /// Whether the daemon is reached over the network.
        public var isRemote: Bool {
            if case .unixSocket = self { return false }
            return true
        }
    }
}
