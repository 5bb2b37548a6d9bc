import CKVM

/// The VM-wide state a snapshot or a migration carries: the in-kernel interrupt
/// controllers, the PIT and the KVM clock.
extension KVMVirtualMachine {
    /// The in-kernel interrupt controllers, numbered as `KVM_GET_IRQCHIP` numbers them.
    public enum InterruptControllerChip: UInt32, CaseIterable, Sendable {
        case primaryPIC = 0, secondaryPIC = 1, ioapic = 2
    }

    public func interruptControllerState(_ chip: InterruptControllerChip) throws(KVMError) -> kvm_irqchip {
        var value = kvm_irqchip()
        value.chip_id = chip.rawValue
        try Syscall.ioctl(fd, ckvm_get_irqchip(), "KVM_GET_IRQCHIP", argument: &value)
        return value
    }

    public func setInterruptControllerState(_ state: kvm_irqchip) throws(KVMError) {
        var value = state
        try Syscall.ioctl(fd, ckvm_set_irqchip(), "KVM_SET_IRQCHIP", argument: &value)
    }

    public func timerState() throws(KVMError) -> kvm_pit_state2 {
        var value = kvm_pit_state2()
        try Syscall.ioctl(fd, ckvm_get_pit2(), "KVM_GET_PIT2", argument: &value)
        return value
    }

    public func setTimerState(_ state: kvm_pit_state2) throws(KVMError) {
        var value = state
        try Syscall.ioctl(fd, ckvm_set_pit2(), "KVM_SET_PIT2", argument: &value)
    }

    /// The kvmclock's current value in nanoseconds, as the guest reads it.
    public func clock() throws(KVMError) -> UInt64 {
        var value = kvm_clock_data()
        try Syscall.ioctl(fd, ckvm_get_clock(), "KVM_GET_CLOCK", argument: &value)
        return value.clock
    }

    /// Makes the kvmclock read `nanoseconds` now, so a restored guest's clock goes on from
    /// where it stopped instead of jumping.
    public func setClock(_ nanoseconds: UInt64) throws(KVMError) {
        var value = kvm_clock_data()
        value.clock = nanoseconds
        try Syscall.ioctl(fd, ckvm_set_clock(), "KVM_SET_CLOCK", argument: &value)
    }
}

extension KVMVirtualMachine {
    /// The pages of memory slot `slot` (logged with `logDirtyPages`) the guest wrote since
    /// the last call, one bit per page; KVM clears the log as it returns it.
    public func dirtyLog(slot: UInt32, pageCount: Int) throws(KVMError) -> [UInt64] {
        var bitmap = [UInt64](repeating: 0, count: (pageCount + 63) / 64)
        var log = kvm_dirty_log()
        log.slot = slot
        let outcome = bitmap.withUnsafeMutableBytes { buffer in
            ckvm_dirty_log_set_bitmap(&log, buffer.baseAddress)
            return Result { () throws(KVMError) in
                try Syscall.ioctl(fd, ckvm_get_dirty_log(), "KVM_GET_DIRTY_LOG", argument: &log)
            }
        }
        _ = try outcome.get()
        return bitmap
    }
}
