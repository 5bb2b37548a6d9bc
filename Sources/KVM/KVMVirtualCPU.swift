#if canImport(Glibc)
import Glibc
#endif
import CKVM

/// One vCPU: its registers and the `KVM_RUN` call.
///
/// `run()` belongs to the vCPU's own thread. Other threads only call
/// `requestImmediateExit`, which the kernel API defines as a plain byte store.
public final class KVMVirtualCPU: @unchecked Sendable {
    public let id: Int
    @usableFromInline let fd: Int32
    private let mapping: UnsafeMutableRawPointer
    private let mappingSize: Int
    @usableFromInline let runRequest = ckvm_run()

    /// The shared `kvm_run` area: why the last `KVM_RUN` returned, and its data.
    public let runState: UnsafeMutablePointer<kvm_run>

    init(id: Int, fd: Int32, mapping: UnsafeMutableRawPointer, mappingSize: Int) {
        self.id = id
        self.fd = fd
        self.mapping = mapping
        self.mappingSize = mappingSize
        runState = mapping.assumingMemoryBound(to: kvm_run.self)
    }

    deinit {
        munmap(mapping, mappingSize)
        Syscall.close(fd)
    }

    /// Enters the guest until the next exit. Returns `false` when a signal or
    /// `immediate_exit` brought the vCPU out before or during guest execution.
    @inlinable
    public func run() throws(KVMError) -> Bool {
        // The hot path of every exit calls ioctl directly; Syscall's wrapper is for the rest.
        if ckvm_ioctl(fd, runRequest) >= 0 { return true }
        let code = errno
        if code == EINTR || code == EAGAIN { return false }
        throw KVMError(operation: "KVM_RUN", code: code)
    }


    /// Makes the next (or current, once a signal arrives) `KVM_RUN` return at once.
    public func requestImmediateExit(_ exit: Bool) {
        // The kernel reads this byte on guest entry; volatile semantics come from the
        // signal that follows a request, which forces a re-check.
        runState.pointee.immediate_exit = exit ? 1 : 0
    }

    public func registers() throws(KVMError) -> kvm_regs {
        var value = kvm_regs()
        try Syscall.ioctl(fd, ckvm_get_regs(), "KVM_GET_REGS", argument: &value)
        return value
    }

    public func setRegisters(_ registers: kvm_regs) throws(KVMError) {
        var value = registers
        try Syscall.ioctl(fd, ckvm_set_regs(), "KVM_SET_REGS", argument: &value)
    }

    public func specialRegisters() throws(KVMError) -> kvm_sregs {
        var value = kvm_sregs()
        try Syscall.ioctl(fd, ckvm_get_sregs(), "KVM_GET_SREGS", argument: &value)
        return value
    }

    public func setSpecialRegisters(_ registers: kvm_sregs) throws(KVMError) {
        var value = registers
        try Syscall.ioctl(fd, ckvm_set_sregs(), "KVM_SET_SREGS", argument: &value)
    }

    public func setFPU(_ fpu: kvm_fpu) throws(KVMError) {
        var value = fpu
        try Syscall.ioctl(fd, ckvm_set_fpu(), "KVM_SET_FPU", argument: &value)
    }

    /// This vCPU's statistics in the host kernel (exits, emulated instructions, halts, ...).
    public func openStatistics() throws(KVMError) -> KVMStatistics {
        try KVMStatistics(fd: Syscall.ioctl(fd, ckvm_get_stats_fd(), "KVM_GET_STATS_FD"))
    }

    public func setCPUID(_ entries: [kvm_cpuid_entry2]) throws(KVMError) {
        let buffer = FlexibleArrayBuffer<kvm_cpuid2, kvm_cpuid_entry2>(capacity: entries.count)
        buffer.header.pointee.nent = UInt32(entries.count)
        _ = buffer.entries.initialize(from: entries)
        try Syscall.ioctl(fd, ckvm_set_cpuid2(), "KVM_SET_CPUID2", pointer: buffer.raw)
    }

    /// Writes model-specific registers; fails unless KVM accepted every one.
    public func setMSRs(_ msrs: [(index: UInt32, value: UInt64)]) throws(KVMError) {
        let buffer = FlexibleArrayBuffer<kvm_msrs, kvm_msr_entry>(capacity: msrs.count)
        buffer.header.pointee.nmsrs = UInt32(msrs.count)
        for (offset, msr) in msrs.enumerated() {
            buffer.entries[offset].index = msr.index
            buffer.entries[offset].data = msr.value
        }
        let written = try Syscall.ioctl(fd, ckvm_set_msrs(), "KVM_SET_MSRS", pointer: buffer.raw)
        guard written == msrs.count else {
            throw KVMError(
                operation: "KVM_SET_MSRS", code: EINVAL,
                explanation: "KVM_SET_MSRS refused MSR 0x\(String(msrs[Int(written)].index, radix: 16))")
        }
    }

    public func localAPIC() throws(KVMError) -> kvm_lapic_state {
        var value = kvm_lapic_state()
        try Syscall.ioctl(fd, ckvm_get_lapic(), "KVM_GET_LAPIC", argument: &value)
        return value
    }

    public func setLocalAPIC(_ state: kvm_lapic_state) throws(KVMError) {
        var value = state
        try Syscall.ioctl(fd, ckvm_set_lapic(), "KVM_SET_LAPIC", argument: &value)
    }

    public func multiprocessingState() throws(KVMError) -> UInt32 {
        var value = kvm_mp_state()
        try Syscall.ioctl(fd, ckvm_get_mp_state(), "KVM_GET_MP_STATE", argument: &value)
        return value.mp_state
    }

    public func setMultiprocessingState(_ state: UInt32) throws(KVMError) {
        var value = kvm_mp_state(mp_state: state)
        try Syscall.ioctl(fd, ckvm_set_mp_state(), "KVM_SET_MP_STATE", argument: &value)
    }
}
