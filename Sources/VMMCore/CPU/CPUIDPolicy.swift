import CKVM

/// Turns KVM's supported CPUID list into what one vCPU of this VM sees: its APIC id,
/// the VM's topology (one package, one core per vCPU), and the features hidden by policy.
public struct CPUIDPolicy: Sendable {
    public let supported: [kvm_cpuid_entry2]
    public let cpuCount: Int
    public let hiddenFeatures: Set<String>
    public let offerTSCDeadline: Bool

    public init(supported: [kvm_cpuid_entry2], cpuCount: Int, hiddenFeatures: Set<String>, offerTSCDeadline: Bool) {
        self.supported = supported
        self.cpuCount = cpuCount
        self.hiddenFeatures = hiddenFeatures
        self.offerTSCDeadline = offerTSCDeadline
    }

    /// The features hidden by default: on a PVM host, those its emulator cannot run and
    /// those that make a guest kernel slower there.
    public static func defaultHiddenFeatures(onPVMHost: Bool, selection: CPUFeatureSelection) -> Set<String> {
        let base: Set<String> = onPVMHost ? Set(CPUFeature.unsupportedOnPVM + CPUFeature.slowOnPVM) : []
        return base.subtracting(selection.shown).union(selection.hidden)
    }

    /// Bits of an x2APIC id that address a core within the package.
    var coreIDWidth: UInt32 {
        var width: UInt32 = 0
        while (1 << width) < cpuCount { width += 1 }
        return width
    }

    public func entries(forAPICID apicID: UInt32) -> [kvm_cpuid_entry2] {
        let hidden = CPUFeature.known.filter { hiddenFeatures.contains($0.name) }
        let hideXSAVE = hiddenFeatures.contains("xsave")
        var result: [kvm_cpuid_entry2] = []
        result.reserveCapacity(supported.count)
        for original in supported {
            if hideXSAVE && original.function == 0xD { continue }
            var entry = original
            switch entry.function {
            case 0x1:
                entry.ebx = (entry.ebx & 0x0000_ffff) | (apicID << 24) | (UInt32(min(cpuCount, 255)) << 16)
                entry.ecx |= 1 << 31  // running under a hypervisor
                if offerTSCDeadline { entry.ecx |= 1 << 24 }
                if hideXSAVE { entry.ecx &= ~(1 << 27) }  // OSXSAVE follows XSAVE
                if cpuCount > 1 { entry.edx |= 1 << 28 } else { entry.edx &= ~(1 << 28) }
            case 0x4:
                entry.eax = (entry.eax & 0x03ff_ffff) | (UInt32(min(cpuCount, 64) - 1) << 26)
                entry.eax &= ~(0xfff << 14)  // one logical processor per cache, as cores
            case 0xB, 0x1F:
                fillTopology(&entry, apicID: apicID)
            case 0x8000_0008:
                entry.ecx = (entry.ecx & ~0xf0ff) | UInt32(min(cpuCount, 256) - 1) | (coreIDWidth << 12)
            case 0x8000_001E:
                entry.eax = apicID
                entry.ebx &= ~0xff00  // one thread per core
            default:
                break
            }
            for feature in hidden where feature.leaf == entry.function && feature.subleaf == entry.index {
                let mask = ~(UInt32(1) << feature.bit)
                switch feature.register {
                case .ebx: entry.ebx &= mask
                case .ecx: entry.ecx &= mask
                case .edx: entry.edx &= mask
                }
            }
            result.append(entry)
        }
        return result
    }

    /// Extended topology: level 0 is SMT (one thread per core), level 1 the cores.
    private func fillTopology(_ entry: inout kvm_cpuid_entry2, apicID: UInt32) {
        entry.edx = apicID
        switch entry.index {
        case 0:
            entry.eax = 0
            entry.ebx = 1
            entry.ecx = (1 << 8) | 0
        case 1:
            entry.eax = coreIDWidth
            entry.ebx = UInt32(cpuCount)
            entry.ecx = (2 << 8) | 1
        default:
            entry.eax = 0
            entry.ebx = 0
            entry.ecx = entry.index
        }
    }
}
