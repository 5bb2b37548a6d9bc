/// Everything needed to build one virtual machine.
public struct MachineConfiguration: Sendable {
    public static let defaultMemorySize: UInt64 = 256 << 20

    public var kernelPath: String
    public var initrdPath: String?
    public var commandLine: String
    public var cpuCount: Int
    public var memorySize: UInt64
    public var cpuFeatures: CPUFeatureSelection
    /// Whether the machine has an i8254 PIT (Linux can do without one).
    public var hasPIT: Bool
    /// virtio-blk disks, in PCI slot order after the host bridge.
    public var disks: [DiskConfiguration]
    /// virtio-net interfaces, in PCI slot order after the disks.
    public var networks: [NetworkConfiguration]
    /// Whether the machine has a virtio-rng device (fed by the host's getrandom).
    public var hasEntropyDevice: Bool
    /// A virtio-balloon device, in the PCI slot after the entropy device; nil: none.
    public var balloon: BalloonConfiguration?
    /// The VM generation ID (ACPI VMGENID) the guest sees: random per VM, kept across
    /// reboots and restores, new for a clone.
    public var generationID: [UInt8] = GenerationID.random()
    /// On a PVM host, add the Linux kernel parameters that keep the guest kernel off what
    /// the host cannot run (see `PVMWorkarounds`).
    public var pvmWorkarounds = true
    /// Guest RAM the host kernel may merge with identical pages (KSM, `MADV_MERGEABLE`).
    public var mergePages = false

    public init(
        kernelPath: String, initrdPath: String? = nil, commandLine: String = "", cpuCount: Int = 1,
        memorySize: UInt64 = defaultMemorySize, cpuFeatures: CPUFeatureSelection = .init(), hasPIT: Bool = true,
        disks: [DiskConfiguration] = [], networks: [NetworkConfiguration] = [], hasEntropyDevice: Bool = true
    ) {
        self.kernelPath = kernelPath
        self.initrdPath = initrdPath
        self.commandLine = commandLine
        self.cpuCount = cpuCount
        self.memorySize = memorySize
        self.cpuFeatures = cpuFeatures
        self.hasPIT = hasPIT
        self.disks = disks
        self.networks = networks
        self.hasEntropyDevice = hasEntropyDevice
    }
}
