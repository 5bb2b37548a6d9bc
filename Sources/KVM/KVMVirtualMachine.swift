#if canImport(Glibc)
import Glibc
#endif
import CKVM

/// A KVM virtual machine: memory slots, the in-kernel irqchip and PIT, interrupt lines.
public final class KVMVirtualMachine: Sendable {
    let fd: Int32
    private let vcpuMappingSize: Int

    init(fd: Int32, vcpuMappingSize: Int) {
        self.fd = fd
        self.vcpuMappingSize = vcpuMappingSize
    }

    deinit { Syscall.close(fd) }

    /// Maps `size` bytes of this process at `hostAddress` into the guest at `guestAddress`;
    /// with `logDirtyPages`, KVM records the pages the guest writes (`dirtyLog`).
    public func setMemoryRegion(
        slot: UInt32, guestAddress: UInt64, size: UInt64, hostAddress: UnsafeMutableRawPointer,
        readOnly: Bool = false, logDirtyPages: Bool = false
    ) throws(KVMError) {
        let flags = (readOnly ? UInt32(KVM_MEM_READONLY) : 0) | (logDirtyPages ? UInt32(KVM_MEM_LOG_DIRTY_PAGES) : 0)
        var region = kvm_userspace_memory_region(
            slot: slot, flags: flags,
            guest_phys_addr: guestAddress, memory_size: size,
            userspace_addr: UInt64(UInt(bitPattern: hostAddress)))
        try Syscall.ioctl(fd, ckvm_set_user_memory_region(), "KVM_SET_USER_MEMORY_REGION",
                          argument: &region)
    }

    /// Three pages of guest-physical space Intel VT-x needs for real-mode emulation.
    public func setTSSAddress(_ address: UInt64) throws(KVMError) {
        try Syscall.ioctl(fd, ckvm_set_tss_addr(), "KVM_SET_TSS_ADDR", value: UInt(address))
    }

    /// One page for the identity-mapped page table VT-x uses before the guest enables paging.
    public func setIdentityMapAddress(_ address: UInt64) throws(KVMError) {
        var value = address
        try Syscall.ioctl(fd, ckvm_set_identity_map_addr(), "KVM_SET_IDENTITY_MAP_ADDR",
                          argument: &value)
    }

    /// Creates the in-kernel PIC pair, IOAPIC and per-vCPU local APICs.
    public func createInterruptController() throws(KVMError) {
        try Syscall.ioctl(fd, ckvm_create_irqchip(), "KVM_CREATE_IRQCHIP")
    }

    /// Creates the in-kernel i8254 PIT (needs the irqchip first), with port 0x61's
    /// speaker/gate register, which Linux's PIT calibration reads.
    public func createProgrammableIntervalTimer() throws(KVMError) {
        var config = kvm_pit_config()
        config.flags = UInt32(KVM_PIT_SPEAKER_DUMMY)
        try Syscall.ioctl(fd, ckvm_create_pit2(), "KVM_CREATE_PIT2", argument: &config)
    }

    /// Raises or lowers an interrupt line of the in-kernel irqchip (GSI numbering).
    public func setInterruptLine(_ line: UInt32, high: Bool) throws(KVMError) {
        var level = kvm_irq_level()
        level.irq = line
        level.level = high ? 1 : 0
        try Syscall.ioctl(fd, ckvm_irq_line(), "KVM_IRQ_LINE", argument: &level)
    }

    /// Replaces the whole GSI routing table. Any route left out stops working, so callers
    /// pass the irqchip pins along with anything they add.
    public func setInterruptRouting(_ routes: [KVMInterruptRoute]) throws(KVMError) {
        let buffer = FlexibleArrayBuffer<kvm_irq_routing, kvm_irq_routing_entry>(capacity: routes.count)
        buffer.header.pointee.nr = UInt32(routes.count)
        for (index, route) in routes.enumerated() {
            buffer.entries[index].gsi = route.gsi
            switch route.target {
            case .irqchip(let chip, let pin):
                buffer.entries[index].type = UInt32(KVM_IRQ_ROUTING_IRQCHIP)
                buffer.entries[index].u.irqchip.irqchip = chip.rawValue
                buffer.entries[index].u.irqchip.pin = pin
            case .msi(let address, let data):
                buffer.entries[index].type = UInt32(KVM_IRQ_ROUTING_MSI)
                buffer.entries[index].u.msi.address_lo = UInt32(truncatingIfNeeded: address)
                buffer.entries[index].u.msi.address_hi = UInt32(truncatingIfNeeded: address >> 32)
                buffer.entries[index].u.msi.data = data
            }
        }
        try Syscall.ioctl(fd, ckvm_set_gsi_routing(), "KVM_SET_GSI_ROUTING", pointer: buffer.raw)
    }

    /// The VM's statistics in the host kernel (its MMU's pages and flushes, ...).
    public func openStatistics() throws(KVMError) -> KVMStatistics {
        try KVMStatistics(fd: Syscall.ioctl(fd, ckvm_get_stats_fd(), "KVM_GET_STATS_FD"))
    }

    /// Creates vCPU `id` (its initial APIC id) and maps its `kvm_run` area.
    public func createVirtualCPU(id: Int) throws(KVMError) -> KVMVirtualCPU {
        let vcpuFD = try Syscall.ioctl(fd, ckvm_create_vcpu(), "KVM_CREATE_VCPU", value: UInt(id))
        guard let mapping = mmap(nil, vcpuMappingSize, PROT_READ | PROT_WRITE, MAP_SHARED, vcpuFD, 0),
              mapping != MAP_FAILED
        else {
            let code = errno
            Syscall.close(vcpuFD)
            throw KVMError(operation: "mmap kvm_run", code: code)
        }
        return KVMVirtualCPU(id: id, fd: vcpuFD, mapping: mapping, mappingSize: vcpuMappingSize)
    }
}
