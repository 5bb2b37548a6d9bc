/// `GET /v1/host`'s `cluster` object, in cluster mode: this host's name and the hosts
/// etcd knows (every host whose lease lives, this one included once registered).
public struct ClusterInfo: Codable, Equatable, Sendable {
    /// This host's `--host-name`.
    public var host: String
    /// Whether this host's record is in etcd now.
    public var registered: Bool
    /// The registered hosts by name; nil when etcd could not be read (see `problem`).
    public var hosts: [ClusterHost]?
    /// Why etcd could not be read, or why this host is not registered.
    public var problem: String?

    public init(host: String, registered: Bool, hosts: [ClusterHost]?, problem: String? = nil) {
        self.host = host
        self.registered = registered
        self.hosts = hosts
        self.problem = problem
    }
}
