/// `GET /v1/host`'s `committed`: what the VMs with a `vmm` on this host were promised,
/// against what the daemon's admission policy lets it promise.
public struct HostCommitment: Codable, Equatable, Sendable {
    /// Guest RAM of the running, paused, starting and arriving VMs, in bytes.
    public var memory: UInt64
    /// Host memory times the memory overcommit ratio.
    public var memoryCapacity: UInt64
    public var vcpus: Int
    /// Online CPUs times the CPU overcommit ratio.
    public var vcpuCapacity: Int
    public var memoryOvercommit: Double
    public var cpuOvercommit: Double

    public init(
        memory: UInt64, memoryCapacity: UInt64, vcpus: Int, vcpuCapacity: Int, memoryOvercommit: Double, cpuOvercommit: Double
    ) {
        self.memory = memory
        self.memoryCapacity = memoryCapacity
        self.vcpus = vcpus
        self.vcpuCapacity = vcpuCapacity
        self.memoryOvercommit = memoryOvercommit
        self.cpuOvercommit = cpuOvercommit
    }
}
