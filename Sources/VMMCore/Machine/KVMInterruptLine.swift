import KVM

/// An input pin of the in-kernel irqchip (PIC and IOAPIC share GSI numbers 0–15).
struct KVMInterruptLine: InterruptLine {
    let vm: KVMVirtualMachine
    let gsi: UInt32
    let log: Logger

    func set(high: Bool) {
        do {
            try vm.setInterruptLine(gsi, high: high)
        } catch {
            log.warning("interrupt line \(gsi): \(error)")
        }
    }
}
