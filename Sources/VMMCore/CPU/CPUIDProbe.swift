import CKVM
import KVM

/// Asks the host which CPUID bits a guest really sees: some hosts (PVM) let part of the
/// table vmm installs through and answer the rest from the hardware, so a feature vmm
/// hides may still be visible.
///
/// It runs in the guest's own VM, on the boot vCPU before its first real entry (a VM of
/// its own cost more than the rest of vmm's start-up): a few instructions in page 0 run
/// `cpuid` for each leaf that carries a known feature, store the registers next to the
/// code and leave through a port write. The page is zeroed again afterwards and the vCPU
/// then gets its boot state, so the guest finds nothing of the probe.
enum CPUIDProbe {
    /// Page 0 above the boot GDT (`VCPUSetup.gdtAddress`): mapped in every VM, used by no
    /// boot protocol before the kernel runs.
    static let codeAddress: UInt64 = 0x600
    static let resultsAddress: UInt64 = 0x700
    /// Where the probe says it is done (`out` to it); the probe's own KVM_RUN sees it,
    /// no device does.
    static let donePort: UInt16 = 0xf4

    /// The known features set in what the guest reads. `vcpu` has its CPUID table and
    /// has never run; `memory` is the VM's fresh RAM with the boot GDT written.
    static func visibleFeatures(vcpu: KVMVirtualCPU, memory: GuestMemory) throws(VMMError) -> Set<String> {
        let leaves = Array(Set(CPUFeature.known.map { Leaf(function: $0.leaf, index: $0.subleaf) }))
        let code = program(for: leaves)
        try memory.write(code, at: codeAddress)
        var seen: [Leaf: [CPUFeature.Register: UInt32]] = [:]
        try VMMError.kvm { () throws(KVMError) in
            try VCPUSetup.enter(vcpu, at: .protectedMode(eip: UInt32(codeAddress), eax: 0, ebx: 0))
            while try !vcpu.run() {}
            let run = vcpu.runState.pointee
            guard run.exit_reason == UInt32(KVM_EXIT_IO), run.io.direction == UInt8(KVM_EXIT_IO_OUT),
                  run.io.port == donePort else {
                throw KVMError(
                    operation: "CPUID probe", code: 0,
                    explanation: "the CPUID probe stopped with KVM exit \(run.exit_reason), not at its port write")
            }
            // KVM completes an exit's I/O on the next KVM_RUN; with immediate_exit that
            // one returns at once, and the vCPU's state is final for the boot set-up.
            vcpu.requestImmediateExit(true)
            defer { vcpu.requestImmediateExit(false) }
            _ = try vcpu.run()
        }
        for (index, leaf) in leaves.enumerated() {
            let base = resultsAddress + UInt64(index * 12)
            seen[leaf] = [
                .ebx: memory.read(UInt32.self, at: base) ?? 0, .ecx: memory.read(UInt32.self, at: base + 4) ?? 0,
                .edx: memory.read(UInt32.self, at: base + 8) ?? 0,
            ]
        }
        try memory.write([UInt8](repeating: 0, count: code.count), at: codeAddress)
        try memory.write([UInt8](repeating: 0, count: leaves.count * 12), at: resultsAddress)
        return Set(CPUFeature.known.filter { feature in
            let value = seen[Leaf(function: feature.leaf, index: feature.subleaf)]?[feature.register] ?? 0
            return value & (1 << feature.bit) != 0
        }.map(\.name))
    }

    /// 32-bit code: per leaf `mov eax, leaf; mov ecx, index; cpuid; mov [r], ebx;
    /// mov [r+4], ecx; mov [r+8], edx`, then `out donePort, al`.
    static func program(for leaves: [Leaf]) -> [UInt8] {
        var code: [UInt8] = []
        func append32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { code += $0 } }
        for (index, leaf) in leaves.enumerated() {
            let result = UInt32(resultsAddress) + UInt32(index * 12)
            code.append(0xb8); append32(leaf.function)
            code.append(0xb9); append32(leaf.index)
            code += [0x0f, 0xa2]
            // mov [disp32], r32: opcode 0x89, ModRM mod 00 r/m 101 with the register in reg.
            for (modRM, offset) in [(UInt8(0x1d), UInt32(0)), (0x0d, 4), (0x15, 8)] {
                code += [0x89, modRM]; append32(result + offset)
            }
        }
        code += [0xe6, UInt8(donePort)]
        return code
    }

    struct Leaf: Hashable {
        let function: UInt32
        let index: UInt32
    }
}
