extension VMDefinition {
    private enum Field: String, CodingKey {
        case name, cpus, memory, kernel, initrd, cmdline, autostart, disks, networks, rng, balloon, restoreFrom, ha, haPriority, mergePages, limits
    }

    /// Decodes a definition in which only `name` and `kernel` are required; the other fields
    /// take the same defaults as `init(name:kernel:)` (so definitions stored before a field
    /// existed still load).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Field.self)
        self.init(
            name: try container.decode(String.self, forKey: .name),
            cpus: try container.decodeIfPresent(Int.self, forKey: .cpus) ?? Self.defaultCPUs,
            memory: try container.decodeIfPresent(UInt64.self, forKey: .memory) ?? Self.defaultMemory,
            kernel: try container.decode(String.self, forKey: .kernel),
            initrd: try container.decodeIfPresent(String.self, forKey: .initrd),
            cmdline: try container.decodeIfPresent(String.self, forKey: .cmdline) ?? "",
            autostart: try container.decodeIfPresent(Bool.self, forKey: .autostart) ?? false,
            disks: try container.decodeIfPresent([VMDisk].self, forKey: .disks) ?? [],
            networks: try container.decodeIfPresent([VMNetwork].self, forKey: .networks) ?? [],
            rng: try container.decodeIfPresent(Bool.self, forKey: .rng) ?? true,
            balloon: try container.decodeIfPresent(VMBalloon.self, forKey: .balloon),
            restoreFrom: try container.decodeIfPresent(VMRestoreSource.self, forKey: .restoreFrom),
            ha: try container.decodeIfPresent(Bool.self, forKey: .ha) ?? false,
            haPriority: try container.decodeIfPresent(Int.self, forKey: .haPriority) ?? 0,
            mergePages: try container.decodeIfPresent(Bool.self, forKey: .mergePages) ?? false,
            limits: try container.decodeIfPresent(VMLimits.self, forKey: .limits)
        )
    }
}
