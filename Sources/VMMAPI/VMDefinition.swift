/// What a VM is: stored by the daemon, sent by clients to create one.
public struct VMDefinition: Codable, Equatable, Sendable {
    /// `[a-z0-9][a-z0-9-]{0,62}`: safe as a file and folder name.
    public var name: String
    public var cpus: Int
    /// Guest RAM in bytes.
    public var memory: UInt64
    /// Absolute path of the kernel on the daemon's host.
    public var kernel: String
    public var initrd: String?
    public var cmdline: String
    public var autostart: Bool
    /// virtio-blk disks, in the order the guest sees them.
    public var disks: [VMDisk]
    /// virtio-net NICs, in the order the guest sees them.
    public var networks: [VMNetwork]
    /// Whether the VM has a virtio-rng entropy device.
    public var rng: Bool
    /// A virtio-balloon device; nil: none.
    public var balloon: VMBalloon?
    /// Set by the daemon on a clone made from a snapshot: its first start restores that
    /// snapshot instead of booting the kernel. Clients cannot set it.
    public var restoreFrom: VMRestoreSource?
    /// In a cluster, the VM is restarted on another host when its host fails
    /// (docs/cluster.md); stored and shown on a single host too.
    public var ha: Bool
    /// Among HA VMs, the ones with a higher priority restart first
    /// (``haPriorityRange``).
    public var haPriority: Int
    /// The host kernel may merge the guest's pages with identical ones (KSM, `vmm --merge-pages`).
    public var mergePages: Bool
    /// CPU and memory limits on the VM's process; nil: none.
    public var limits: VMLimits?

    public static let defaultCPUs = 1
    public static let defaultMemory: UInt64 = 256 << 20
    /// The priorities `haPriority` may take.
    public static let haPriorityRange = -1000...1000

    public init(
        name: String, cpus: Int = defaultCPUs, memory: UInt64 = defaultMemory, kernel: String,
        initrd: String? = nil, cmdline: String = "", autostart: Bool = false, disks: [VMDisk] = [],
        networks: [VMNetwork] = [], rng: Bool = true, balloon: VMBalloon? = nil, restoreFrom: VMRestoreSource? = nil,
        ha: Bool = false, haPriority: Int = 0, mergePages: Bool = false, limits: VMLimits? = nil
    ) {
        self.name = name
        self.cpus = cpus
        self.memory = memory
        self.kernel = kernel
        self.initrd = initrd
        self.cmdline = cmdline
        self.autostart = autostart
        self.disks = disks
        self.networks = networks
        self.rng = rng
        self.balloon = balloon
        self.restoreFrom = restoreFrom
        self.ha = ha
        self.haPriority = haPriority
        self.mergePages = mergePages
        self.limits = limits
    }

    /// Whether `name` is a valid VM name.
    public static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= 63 else { return false }
        func allowed(_ byte: UInt8) -> Bool { (0x61...0x7a).contains(byte) || (0x30...0x39).contains(byte) }
        return allowed(first) && bytes.allSatisfy { allowed($0) || $0 == UInt8(ascii: "-") }
    }
}

/// A partial update of a stopped VM's definition (`PATCH /v1/vms/{name}`).
public struct VMDefinitionPatch: Codable, Equatable, Sendable {
    public var cpus: Int?
    public var memory: UInt64?
    public var kernel: String?
    public var initrd: String?
    public var cmdline: String?
    public var autostart: Bool?
    /// Replaces every disk.
    public var disks: [VMDisk]?
    /// Replaces every NIC.
    public var networks: [VMNetwork]?
    public var rng: Bool?
    /// Adds a balloon or changes it; on a running VM only its `target`.
    public var balloon: VMBalloonPatch?
    public var ha: Bool?
    public var haPriority: Int?
    public var mergePages: Bool?
    /// Replaces the limits (an empty object removes them); a running VM takes them at once.
    public var limits: VMLimits?

    public init(
        cpus: Int? = nil, memory: UInt64? = nil, kernel: String? = nil, initrd: String? = nil,
        cmdline: String? = nil, autostart: Bool? = nil, disks: [VMDisk]? = nil, networks: [VMNetwork]? = nil,
        rng: Bool? = nil, balloon: VMBalloonPatch? = nil, ha: Bool? = nil, haPriority: Int? = nil, mergePages: Bool? = nil,
        limits: VMLimits? = nil
    ) {
        self.cpus = cpus
        self.memory = memory
        self.kernel = kernel
        self.initrd = initrd
        self.cmdline = cmdline
        self.autostart = autostart
        self.disks = disks
        self.networks = networks
        self.rng = rng
        self.balloon = balloon
        self.ha = ha
        self.haPriority = haPriority
        self.mergePages = mergePages
        self.limits = limits
    }

    /// Whether the patch changes nothing but the balloon's target: all a running VM takes.
    public var changesOnlyBalloonTarget: Bool {
        self == VMDefinitionPatch(balloon: VMBalloonPatch(target: balloon?.target)) && balloon?.target != nil
    }
}
