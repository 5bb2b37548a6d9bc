import VMMAPI

/// Cluster mode (`--cluster etcd=URL[,URL...] --host-name NAME`): where etcd is, what this
/// host is called there, and how its lease is kept (docs/cluster.md).
public struct ClusterConfiguration: Sendable {
    /// etcd's client URLs (`http://` or, with TLS files, `https://`).
    public var etcdURLs: [String]
    /// This host's name in the cluster (the rules of VM names).
    public var hostName: String
    /// The TLS files for `https://` etcd URLs (this host's; etcd's CA must be among them).
    public var etcdTLS: TLSFiles?
    /// The lease's TTL in seconds (etcd raises anything below its minimum, about 2 s).
    public var leaseTTL: Int64
    /// How often the lease is renewed.
    public var keepAliveInterval: Duration

    public static let defaultLeaseTTL: Int64 = 5
    public static let defaultKeepAliveInterval: Duration = .seconds(1)

    /// Parses `--cluster`'s value; `etcdTLS` is used when a URL is `https://`.
    public init(
        cluster: String, hostName: String, etcdTLS: TLSFiles?, leaseTTL: Int64 = defaultLeaseTTL,
        keepAliveInterval: Duration = defaultKeepAliveInterval
    ) throws(ClusterConfigurationError) {
        let scheme = "etcd="
        guard cluster.hasPrefix(scheme), cluster.count > scheme.count else {
            throw ClusterConfigurationError("--cluster must be etcd=URL[,URL...], e.g. etcd=http://10.0.0.1:2379,http://10.0.0.2:2379")
        }
        let urls = cluster.dropFirst(scheme.count).split(separator: ",").map(String.init)
        for url in urls {
            do {
                _ = try HTTPClient.Endpoint.url(url, tls: etcdTLS)
            } catch {
                throw ClusterConfigurationError("--cluster: \(error)\(etcdTLS == nil ? " (https:// needs --tls-cert, --tls-key, --tls-ca)" : "")")
            }
        }
        guard VMDefinition.isValidName(hostName) else {
            throw ClusterConfigurationError("--host-name \"\(hostName)\": use 1-63 of a-z, 0-9 and -, starting with a letter or digit")
        }
        guard leaseTTL >= 2 else { throw ClusterConfigurationError("--lease-ttl must be at least 2 seconds (etcd's minimum)") }
        guard keepAliveInterval > .zero, keepAliveInterval * 2 <= .seconds(leaseTTL) else {
            throw ClusterConfigurationError("--keepalive-interval must be above 0 and at most half of --lease-ttl")
        }
        etcdURLs = urls
        self.hostName = hostName
        self.etcdTLS = etcdTLS
        self.leaseTTL = leaseTTL
        self.keepAliveInterval = keepAliveInterval
    }
}

/// A `--cluster` option that cannot work, with what to write instead.
public struct ClusterConfigurationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
