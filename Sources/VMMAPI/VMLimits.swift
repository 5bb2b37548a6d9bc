/// CPU and memory limits on a VM's `vmm` process, through its cgroup (`limits` in a
/// definition): `{"cpus": 0.5, "cpuWeight": 50, "memoryLimit": true}`. Changeable while the
/// VM runs.
public struct VMLimits: Codable, Equatable, Sendable {
    /// CPU time as a number of CPUs (the cgroup's quota per period), e.g. 0.5; nil: no cap.
    public var cpus: Double?
    /// Share of CPU time under contention, 1 to 10000 (cgroup v2 `cpu.weight`; 100 is what
    /// every process gets by default); nil: 100.
    public var cpuWeight: Int?
    /// A hard memory limit on the process: guest RAM plus vmm's own overhead
    /// (`memoryOverhead(forGuestMemory:)`).
    public var memoryLimit: Bool?

    public init(cpus: Double? = nil, cpuWeight: Int? = nil, memoryLimit: Bool? = nil) {
        self.cpus = cpus
        self.cpuWeight = cpuWeight
        self.memoryLimit = memoryLimit
    }

    public static let cpuWeightRange = 1...10000
    /// The most CPUs a cap may name (more is no cap).
    public static let maximumCPUs = 1024.0

    /// What vmm needs beside guest RAM: measured 2.5 MiB for a 64 MiB guest and 4.8 MiB for
    /// a 1 GiB one (debug build, idle guest: threads, KVM's page tables and memslot
    /// bitmaps, which grow with RAM); allowed with a wide margin for device threads, I/O
    /// and snapshots: 32 MiB plus 4 MiB per GiB of guest RAM.
    public static func memoryOverhead(forGuestMemory memory: UInt64) -> UInt64 {
        (32 << 20) + memory / 256
    }
}
