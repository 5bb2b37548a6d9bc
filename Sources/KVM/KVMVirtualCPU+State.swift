#if canImport(Glibc)
import Glibc
#endif
import CKVM

/// The vCPU state a snapshot or a migration carries, beyond the registers `VCPUSetup` uses.
extension KVMVirtualCPU {
    public func fpu() throws(KVMError) -> kvm_fpu {
        var value = kvm_fpu()
        try Syscall.ioctl(fd, ckvm_get_fpu(), "KVM_GET_FPU", argument: &value)
        return value
    }

    /// The XSAVE area (legacy FPU, SSE, AVX, ...): a superset of `fpu()` where the host has it.
    public func extendedState() throws(KVMError) -> kvm_xsave {
        var value = kvm_xsave()
        try Syscall.ioctl(fd, ckvm_get_xsave(), "KVM_GET_XSAVE", argument: &value)
        return value
    }

    public func setExtendedState(_ state: kvm_xsave) throws(KVMError) {
        var value = state
        try Syscall.ioctl(fd, ckvm_set_xsave(), "KVM_SET_XSAVE", argument: &value)
    }

    public func extendedControlRegisters() throws(KVMError) -> kvm_xcrs {
        var value = kvm_xcrs()
        try Syscall.ioctl(fd, ckvm_get_xcrs(), "KVM_GET_XCRS", argument: &value)
        return value
    }

    public func setExtendedControlRegisters(_ registers: kvm_xcrs) throws(KVMError) {
        var value = registers
        try Syscall.ioctl(fd, ckvm_set_xcrs(), "KVM_SET_XCRS", argument: &value)
    }

    public func debugRegisters() throws(KVMError) -> kvm_debugregs {
        var value = kvm_debugregs()
        try Syscall.ioctl(fd, ckvm_get_debugregs(), "KVM_GET_DEBUGREGS", argument: &value)
        return value
    }

    public func setDebugRegisters(_ registers: kvm_debugregs) throws(KVMError) {
        var value = registers
        try Syscall.ioctl(fd, ckvm_set_debugregs(), "KVM_SET_DEBUGREGS", argument: &value)
    }

    /// Pending exceptions, interrupts and NMIs, and the interrupt shadow.
    public func events() throws(KVMError) -> kvm_vcpu_events {
        var value = kvm_vcpu_events()
        try Syscall.ioctl(fd, ckvm_get_vcpu_events(), "KVM_GET_VCPU_EVENTS", argument: &value)
        return value
    }

    public func setEvents(_ events: kvm_vcpu_events) throws(KVMError) {
        var value = events
        try Syscall.ioctl(fd, ckvm_set_vcpu_events(), "KVM_SET_VCPU_EVENTS", argument: &value)
    }

    /// Reads the MSRs in `indices`; those KVM does not return are left out.
    public func msrs(_ indices: [UInt32]) throws(KVMError) -> [(index: UInt32, value: UInt64)] {
        guard !indices.isEmpty else { return [] }
        let buffer = FlexibleArrayBuffer<kvm_msrs, kvm_msr_entry>(capacity: indices.count)
        buffer.header.pointee.nmsrs = UInt32(indices.count)
        for (offset, index) in indices.enumerated() { buffer.entries[offset].index = index }
        // KVM stops at the first MSR it cannot read and returns how many it read.
        let read = Int(try Syscall.ioctl(fd, ckvm_get_msrs(), "KVM_GET_MSRS", pointer: buffer.raw))
        return buffer.entries.prefix(read).map { (index: $0.index, value: $0.data) }
    }

    /// The guest's TSC frequency in kHz.
    public func tscFrequency() throws(KVMError) -> UInt32 {
        UInt32(try Syscall.ioctl(fd, ckvm_get_tsc_khz(), "KVM_GET_TSC_KHZ"))
    }

    public func setTSCFrequency(_ kilohertz: UInt32) throws(KVMError) {
        try Syscall.ioctl(fd, ckvm_set_tsc_khz(), "KVM_SET_TSC_KHZ", value: UInt(kilohertz))
    }
}
