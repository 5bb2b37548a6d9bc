import KVM

/// What a PCI device may need while it is built: the machine's KVM VM, memory and
/// interrupt routing, and its own place on the bus.
public struct PCIDeviceContext: Sendable {
    public let vm: KVMVirtualMachine
    public let memory: GuestMemory
    /// Allocates GSIs and routes for the device's MSI-X vectors (see `MSIXTable`).
    public let interruptRouter: InterruptRouter
    /// The device's slot on bus 0 (1...31; the host bridge is 0).
    public let slot: Int
    /// The device's INTA# pin: GSI `PCIBus.interruptGSI(slot:)`, level-triggered.
    public let interruptLine: any InterruptLine
    public let log: Logger

    public init(
        vm: KVMVirtualMachine, memory: GuestMemory, interruptRouter: InterruptRouter, slot: Int,
        interruptLine: any InterruptLine, log: Logger
    ) {
        self.vm = vm
        self.memory = memory
        self.interruptRouter = interruptRouter
        self.slot = slot
        self.interruptLine = interruptLine
        self.log = log
    }
}

/// Builds one PCI device of a machine; `MachineBuilder` calls it once, in slot order.
public typealias PCIDeviceFactory = (PCIDeviceContext) throws(VMMError) -> any PCIDevice
