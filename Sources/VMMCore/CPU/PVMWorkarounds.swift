import KVM

/// What a Linux guest needs on a PVM host whose CPUID shows features vmm asked to hide:
/// kernel parameters that keep the kernel off instructions the host's emulator cannot run
/// in guest kernel mode (XSAVE/XRSTOR, POPCNT, CMPXCHG16B, CLAC/STAC).
public struct PVMWorkarounds: Equatable, Sendable {
    /// Features the policy hides that the guest still sees.
    public var visibleDespitePolicy: Set<String>
    /// Features the policy hides and the guest does not see.
    public var hidden: Set<String>

    /// Features Linux's `clearcpuid=` knows by these names and that the emulator cannot run.
    static let clearableByLinux: Set<String> = ["popcnt", "cx16", "smap"]
    /// XSAVE brings AVX and its relatives along; `noxsave` turns all of them off.
    static let offWithNoXSAVE: Set<String> = ["xsave", "avx", "avx2", "avx512f"]

    /// Probes what `vcpu` (with the table `policy` made, not yet run) sees against the
    /// features `policy` hides.
    static func probe(vcpu: KVMVirtualCPU, memory: GuestMemory, policy: CPUIDPolicy) throws(VMMError) -> PVMWorkarounds {
        let visible = try CPUIDProbe.visibleFeatures(vcpu: vcpu, memory: memory)
        return PVMWorkarounds(
            visibleDespitePolicy: policy.hiddenFeatures.intersection(visible),
            hidden: policy.hiddenFeatures.subtracting(visible))
    }

    /// The parameters to add to `commandLine`; none that the command line already decides.
    public func kernelParameters(for commandLine: String) -> [String] {
        let words = commandLine.split(separator: " ").map(String.init)
        var parameters: [String] = []
        if !visibleDespitePolicy.isDisjoint(with: Self.offWithNoXSAVE) && !words.contains("noxsave") {
            parameters.append("noxsave")
        }
        let clear = visibleDespitePolicy.intersection(Self.clearableByLinux)
        if !clear.isEmpty && !words.contains(where: { $0.hasPrefix("clearcpuid=") }) {
            parameters.append("clearcpuid=" + clear.sorted().joined(separator: ","))
        }
        return parameters
    }
}
