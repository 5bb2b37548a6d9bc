import ArgumentParser
import VMMAPI

/// `--cpu-limit`, `--cpu-weight` and `--memory-limit` of `vmctl create` and `vmctl set`: the
/// definition's `limits` (the VM's cgroup; a running VM takes them at once).
struct LimitOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Cap the VM's CPU time at this many CPUs (e.g. 0.5); 0 removes the cap.", valueName: "cpus"))
    var cpuLimit: Double?

    @Option(help: ArgumentHelp("The VM's share of CPU time under contention, 1 to 10000 (100 is everyone's default).", valueName: "weight"))
    var cpuWeight: Int?

    @Option(help: ArgumentHelp(
        "on: a hard memory limit on the VM's vmm, guest RAM plus vmm's overhead; off: none.", valueName: "on|off"))
    var memoryLimit: String?

    var isEmpty: Bool { cpuLimit == nil && cpuWeight == nil && memoryLimit == nil }

    func validate() throws {
        if let cpuLimit, !(cpuLimit == 0 || (cpuLimit >= 0.01 && cpuLimit <= VMLimits.maximumCPUs)) {
            throw ValidationError("--cpu-limit must be 0 (no cap) or from 0.01 to \(Int(VMLimits.maximumCPUs)) CPUs, not \(cpuLimit)")
        }
        if let cpuWeight, !VMLimits.cpuWeightRange.contains(cpuWeight) {
            throw ValidationError("--cpu-weight must be from 1 to 10000, not \(cpuWeight)")
        }
        if let memoryLimit, !["on", "off"].contains(memoryLimit) {
            throw ValidationError("--memory-limit must be on or off, not \(memoryLimit)")
        }
    }

    /// `current` with the options given applied; nil when nothing is limited.
    func applied(to current: VMLimits?) -> VMLimits? {
        var limits = current ?? VMLimits()
        if let cpuLimit { limits.cpus = cpuLimit == 0 ? nil : cpuLimit }
        if let cpuWeight { limits.cpuWeight = cpuWeight }
        if let memoryLimit { limits.memoryLimit = memoryLimit == "on" ? true : nil }
        return limits == VMLimits() ? nil : limits
    }
}
