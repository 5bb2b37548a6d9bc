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
    /// How long after the send time of its last confirmed renewal this host's HA VMs are
    /// stopped (fenced) when no renewal succeeds (docs/cluster.md, section 4); by default 3 s,
    /// or less where the TTL needs it.
    public var fenceAfter: Duration

    public static let defaultLeaseTTL: Int64 = 5
    public static let defaultKeepAliveInterval: Duration = .seconds(1)
    public static let defaultFenceAfter: Duration = .seconds(3)
    /// The least time a fence must leave before the lease can expire, to stop the VMs
    /// (K in docs/cluster.md section 4), and the clock rate error allowed for (ρ).
    static let minimumFenceMargin: Duration = .seconds(1)
    static let clockRateError = 0.001

    /// Parses `--cluster`'s value; `etcdTLS` is used when a URL is `https://`.
    public init(
        cluster: String, hostName: String, etcdTLS: TLSFiles?, leaseTTL: Int64 = defaultLeaseTTL,
        keepAliveInterval: Duration = defaultKeepAliveInterval, fenceAfter: Duration? = nil
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
        let ttl = Duration.seconds(leaseTTL)
        let longestFence = (ttl * (1 - Self.clockRateError) - Self.minimumFenceMargin) / (1 + Self.clockRateError)
        let fenceAfter = fenceAfter ?? min(Self.defaultFenceAfter, longestFence)
        guard fenceAfter > keepAliveInterval,
              fenceAfter * (1 + Self.clockRateError) + Self.minimumFenceMargin <= ttl * (1 - Self.clockRateError) else {
            throw ClusterConfigurationError(
                "--fence-after must be longer than --keepalive-interval and leave at least 1 s before the lease can "
                    + "expire (fence × 1.001 + 1 s ≤ TTL × 0.999; docs/cluster.md section 4): with --lease-ttl \(leaseTTL), "
                    + "at most \(Self.seconds(longestFence)) s (a longer --lease-ttl or a shorter --keepalive-interval make room)")
        }
        etcdURLs = urls
        self.hostName = hostName
        self.etcdTLS = etcdTLS
        self.leaseTTL = leaseTTL
        self.keepAliveInterval = keepAliveInterval
        self.fenceAfter = fenceAfter
    }

    /// Seconds with two decimals, rounded down.
    private static func seconds(_ duration: Duration) -> String {
        let hundredths = Int(duration / .milliseconds(10))
        return "\(hundredths / 100).\(String(format: "%02d", hundredths % 100))"
    }
}

/// A `--cluster` option that cannot work, with what to write instead.
public struct ClusterConfigurationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
