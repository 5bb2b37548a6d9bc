import CKVM
import KVM

/// Everything KVM keeps for one vCPU, saved while it is out of the guest.
///
/// Restore order follows what KVM needs: CPUID before anything that depends on it,
/// special registers (which carry EFER and the APIC base) before the MSRs, the local APIC
/// before the MSRs (the TSC deadline only sticks in TSC-deadline mode), events last.
struct VCPUState {
    var cpuid: [kvm_cpuid_entry2]
    var registers: kvm_regs
    var specialRegisters: kvm_sregs
    var fpu: kvm_fpu
    var extendedState: kvm_xsave?
    var extendedControlRegisters: kvm_xcrs?
    var debugRegisters: kvm_debugregs?
    var localAPIC: kvm_lapic_state
    var msrs: [(index: UInt32, value: UInt64)]
    var multiprocessingState: UInt32
    var events: kvm_vcpu_events

    /// IA32_APIC_BASE travels in the special registers; writing it again as an MSR after
    /// the local APIC was restored would reset the APIC.
    private static let msrsCarriedElsewhere: Set<UInt32> = [0x1b]

    static func capture(_ thread: VCPUThread, kvm: KVMSystem) throws(KVMError) -> VCPUState {
        let vcpu = thread.vcpu
        let indices = try kvm.msrIndexList().filter { !msrsCarriedElsewhere.contains($0) }
        return VCPUState(
            cpuid: thread.offeredCPUID,
            registers: try vcpu.registers(),
            specialRegisters: try vcpu.specialRegisters(),
            fpu: try vcpu.fpu(),
            extendedState: kvm.check(.xsave) > 0 ? try vcpu.extendedState() : nil,
            extendedControlRegisters: kvm.check(.extendedControlRegisters) > 0 ? try vcpu.extendedControlRegisters() : nil,
            debugRegisters: kvm.check(.debugRegisters) > 0 ? try vcpu.debugRegisters() : nil,
            localAPIC: try vcpu.localAPIC(),
            msrs: try readableMSRs(vcpu, indices),
            multiprocessingState: try vcpu.multiprocessingState(),
            events: try vcpu.events())
    }

    /// KVM_GET_MSRS stops at the first MSR it cannot read: skip that one and go on.
    private static func readableMSRs(_ vcpu: KVMVirtualCPU, _ indices: [UInt32]) throws(KVMError)
        -> [(index: UInt32, value: UInt64)]
    {
        var result: [(index: UInt32, value: UInt64)] = []
        var remaining = indices[...]
        while !remaining.isEmpty {
            let read = try vcpu.msrs(Array(remaining))
            result += read
            remaining = remaining.dropFirst(read.count + 1)
        }
        return result
    }

    func restore(to vcpu: KVMVirtualCPU, log: Logger) throws(KVMError) {
        try vcpu.setCPUID(cpuid)
        try vcpu.setSpecialRegisters(specialRegisters)
        try vcpu.setRegisters(registers)
        if let extendedState { try vcpu.setExtendedState(extendedState) } else { try vcpu.setFPU(fpu) }
        if let extendedControlRegisters { try vcpu.setExtendedControlRegisters(extendedControlRegisters) }
        if let debugRegisters { try vcpu.setDebugRegisters(debugRegisters) }
        try vcpu.setLocalAPIC(localAPIC)
        for msr in msrs {
            do {
                try vcpu.setMSRs([msr])
            } catch {
                log.debug("vCPU \(vcpu.id): MSR 0x\(String(msr.index, radix: 16)) not restored: \(error)")
            }
        }
        try vcpu.setMultiprocessingState(multiprocessingState)
        try vcpu.setEvents(events)
    }

    func encode(to encoder: inout StateEncoder) {
        encoder.section("vcpu") { e in
            e.append(UInt32(cpuid.count))
            for entry in cpuid { e.appendRaw(entry) }
            e.appendRaw(registers)
            e.appendRaw(specialRegisters)
            e.appendRaw(fpu)
            appendOptional(extendedState, to: &e)
            appendOptional(extendedControlRegisters, to: &e)
            appendOptional(debugRegisters, to: &e)
            e.appendRaw(localAPIC)
            e.append(UInt32(msrs.count))
            for msr in msrs {
                e.append(msr.index)
                e.append(msr.value)
            }
            e.append(multiprocessingState)
            e.appendRaw(events)
        }
    }

    static func decode(from decoder: inout StateDecoder) throws(VMMError) -> VCPUState {
        try decoder.section("vcpu") { (d) throws(VMMError) -> VCPUState in
            let cpuidCount = Int(try d.read(UInt32.self))
            guard cpuidCount <= 4096 else { throw d.malformed("\(cpuidCount) CPUID entries") }
            var cpuid: [kvm_cpuid_entry2] = []
            for _ in 0..<cpuidCount { cpuid.append(try d.readRaw(kvm_cpuid_entry2.self)) }
            let registers = try d.readRaw(kvm_regs.self)
            let specialRegisters = try d.readRaw(kvm_sregs.self)
            let fpu = try d.readRaw(kvm_fpu.self)
            let extendedState = try readOptional(kvm_xsave.self, from: &d)
            let extendedControlRegisters = try readOptional(kvm_xcrs.self, from: &d)
            let debugRegisters = try readOptional(kvm_debugregs.self, from: &d)
            let localAPIC = try d.readRaw(kvm_lapic_state.self)
            let msrCount = Int(try d.read(UInt32.self))
            guard msrCount <= 65536 else { throw d.malformed("\(msrCount) MSRs") }
            var msrs: [(index: UInt32, value: UInt64)] = []
            for _ in 0..<msrCount { msrs.append((try d.read(UInt32.self), try d.read(UInt64.self))) }
            return VCPUState(
                cpuid: cpuid, registers: registers, specialRegisters: specialRegisters, fpu: fpu,
                extendedState: extendedState, extendedControlRegisters: extendedControlRegisters,
                debugRegisters: debugRegisters, localAPIC: localAPIC, msrs: msrs,
                multiprocessingState: try d.read(UInt32.self), events: try d.readRaw(kvm_vcpu_events.self))
        }
    }

    private func appendOptional<T>(_ value: T?, to encoder: inout StateEncoder) {
        encoder.append(value != nil)
        if let value { encoder.appendRaw(value) }
    }

    private static func readOptional<T>(_: T.Type, from decoder: inout StateDecoder) throws(VMMError) -> T? {
        try decoder.readBool() ? try decoder.readRaw(T.self) : nil
    }
}
