/// Delivers a virtio device's interrupts: through the MSI-X vector the driver chose for
/// the queue (or configuration), or, with MSI-X disabled, through INTx and the ISR.
struct VirtioPCIInterrupt: VirtioInterrupt {
    private enum Cause: UInt8 {
        case usedBuffers = 1
        case configurationChange = 2
    }

    let transport: VirtioPCIDevice

    func signalUsedBuffers(queue: Int) {
        let vector = transport.registers.withLock { queue < $0.queues.count ? $0.queues[queue].vector : VirtioPCIRegisters.noVector }
        deliver(.usedBuffers, vector: vector)
    }

    func signalConfigurationChange() {
        deliver(.configurationChange, vector: transport.registers.withLock { $0.configVector })
    }

    private func deliver(_ cause: Cause, vector: UInt16) {
        if transport.msix.isEnabled {
            _ = transport.msix.signal(vector: vector)
            return
        }
        transport.registers.withLock { $0.interruptStatus |= cause.rawValue }
        if !transport.configuration.isInterruptDisabled { transport.intx.set(high: true) }
    }
}

extension VirtioPCIDevice {
    /// Reading the ISR returns the pending causes, clears them and releases INTx.
    func takeInterruptStatus() -> UInt8 {
        let status = registers.withLock { registers in
            defer { registers.interruptStatus = 0 }
            return registers.interruptStatus
        }
        intx.set(high: false)
        return status
    }
}
