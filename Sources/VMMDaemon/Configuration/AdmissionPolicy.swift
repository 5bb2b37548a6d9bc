/// How much the daemon may promise beyond what the host has: the guest RAM and vCPUs of
/// every VM it runs, against the host's memory and online CPUs times these ratios. Starts,
/// restores and arriving migrations past them are refused (409) rather than left to the
/// kernel's OOM killer or to vCPUs that never get a core.
public struct AdmissionPolicy: Sendable {
    /// Guest RAM per byte of host memory. 1 promises no more than the host has, as
    /// OpenStack's default does; ballooned and merged guests make more safe.
    public var memoryOvercommit: Double
    /// vCPUs per host CPU (OpenStack's historical default, for mostly idle guests).
    public var cpuOvercommit: Double

    public static let defaultMemoryOvercommit = 1.0
    public static let defaultCPUOvercommit = 16.0

    public init(memoryOvercommit: Double = defaultMemoryOvercommit, cpuOvercommit: Double = defaultCPUOvercommit) {
        self.memoryOvercommit = memoryOvercommit
        self.cpuOvercommit = cpuOvercommit
    }
}
