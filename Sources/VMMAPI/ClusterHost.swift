/// A host's record in the cluster (etcd key `vmm/hosts/NAME`, bound to the host's lease;
/// docs/cluster.md): what placement needs to know about it.
public struct ClusterHost: Codable, Equatable, Sendable {
    /// `--host-name`.
    public var name: String
    /// Where its API is: `https://HOST:PORT` (`--listen`).
    public var address: String
    /// Online CPUs.
    public var cpus: Int
    /// RAM in bytes.
    public var memory: UInt64
    /// `normal`, or `draining`: no VM is placed there.
    public var mode: String
    /// The daemon's version.
    public var version: String
    /// Guest RAM and vCPUs promised to the VMs running there, against what may be
    /// promised (`GET /v1/host`'s `committed`): placement picks the most free.
    public var committed: HostCommitment?

    public init(
        name: String, address: String, cpus: Int, memory: UInt64, mode: String, version: String, committed: HostCommitment? = nil
    ) {
        self.name = name
        self.address = address
        self.cpus = cpus
        self.memory = memory
        self.mode = mode
        self.version = version
        self.committed = committed
    }
}
