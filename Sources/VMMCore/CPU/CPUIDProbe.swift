import CKVM
import KVM

/// Asks the host which CPUID bits a guest really sees: some hosts (PVM) let part of the
/// table vmm installs through and answer the rest from the hardware, so a feature vmm
/// hides may still be visible. A throwaway VM with one vCPU runs `cpuid; hlt` in
/// protected mode for each leaf that carries a known feature.
public enum CPUIDProbe {
    /// `cpuid; hlt`.
    private static let code: [UInt8] = [0x0f, 0xa2, 0xf4]
    private static let codeAddress: UInt64 = 0x1000

    /// The known features set in what the guest reads, given the table `entries`.
    public static func visibleFeatures(kvm: KVMSystem, entries: [kvm_cpuid_entry2]) throws(VMMError) -> Set<String> {
        let memory = try GuestMemory(size: GuestMemoryMap.minimumSize)
        try memory.write(code, at: codeAddress)
        try VCPUSetup.writeGDT(to: memory)
        let leaves = Set(CPUFeature.known.map { Leaf(function: $0.leaf, index: $0.subleaf) })
        var results: [Leaf: (ebx: UInt32, ecx: UInt32, edx: UInt32)] = [:]
        try VMMError.kvm { () throws(KVMError) in
            let vm = try kvm.createVirtualMachine()
            let region = memory.regions[0]
            try vm.setMemoryRegion(slot: 0, guestAddress: 0, size: region.size, hostAddress: memory.base)
            try vm.setIdentityMapAddress(GuestMemoryMap.identityMapAddress)
            try vm.setTSSAddress(GuestMemoryMap.tssAddress)
            let vcpu = try vm.createVirtualCPU(id: 0)
            try vcpu.setCPUID(entries)
            try VCPUSetup.enter(vcpu, at: .protectedMode(eip: UInt32(codeAddress), eax: 0, ebx: 0))
            for leaf in leaves {
                var registers = try vcpu.registers()
                registers.rip = codeAddress
                registers.rax = UInt64(leaf.function)
                registers.rcx = UInt64(leaf.index)
                try vcpu.setRegisters(registers)
                guard try vcpu.run(), vcpu.runState.pointee.exit_reason == UInt32(KVM_EXIT_HLT) else {
                    throw KVMError(
                        operation: "CPUID probe", code: 0,
                        explanation: "the probe stopped with KVM exit \(vcpu.runState.pointee.exit_reason), not at hlt")
                }
                let after = try vcpu.registers()
                results[leaf] = (UInt32(truncatingIfNeeded: after.rbx), UInt32(truncatingIfNeeded: after.rcx),
                                 UInt32(truncatingIfNeeded: after.rdx))
            }
        }
        return Set(CPUFeature.known.filter { feature in
            guard let seen = results[Leaf(function: feature.leaf, index: feature.subleaf)] else { return false }
            let value: UInt32
            switch feature.register {
            case .ebx: value = seen.ebx
            case .ecx: value = seen.ecx
            case .edx: value = seen.edx
            }
            return value & (1 << feature.bit) != 0
        }.map(\.name))
    }

    private struct Leaf: Hashable {
        let function: UInt32
        let index: UInt32
    }
}
