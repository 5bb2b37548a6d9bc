import KVM

/// A PCI device with setup that needs its BAR addresses, such as ioeventfds at a
/// notification address. The machine builder calls `barsAssigned` once per device, after
/// the bus placed every BAR and before any vCPU runs.
public protocol PCIBarsAssigned: PCIDevice {
    /// Reads addresses with `configuration.barAddress(_:)`.
    func barsAssigned(vm: KVMVirtualMachine) throws(VMMError)
}
