import KVM

extension VirtioPCIDevice: PCIBarsAssigned {
    /// Lets KVM signal each queue's eventfd on the guest's 2-byte notify write, without an
    /// exit to vmm. Where KVM refuses, the write still reaches `writeBAR`, which signals.
    public func barsAssigned(vm: KVMVirtualMachine) throws(VMMError) {
        guard let base = configuration.barAddress(VirtioPCILayout.structuresBar) else { return }
        for (queue, notifier) in notifiers.enumerated() {
            let address = base + VirtioPCILayout.notifyOffset + UInt64(queue) * UInt64(VirtioPCILayout.notifyMultiplier)
            do {
                try vm.assignIOEventFD(notifier.fileDescriptor, address: address, length: 2)
            } catch {
                log.warning("virtio \(device.deviceType) queue \(queue): no ioeventfd (\(error)); notifications exit to vmm")
            }
        }
    }
}
