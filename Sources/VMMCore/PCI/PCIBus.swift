/// PCI bus 0: the host bridge in slot 0 and the machine's devices in slots 1... in the
/// order given, each a single-function device. Configuration cycles from both access
/// mechanisms (`PCIConfigurationPorts`, `PCIExpressConfigurationWindow`) end here.
///
/// Memory BARs are placed once, when the bus is built, naturally aligned in the 32-bit
/// window (64-bit BARs too: the machine has no window above 4 GiB yet). Addresses never
/// move afterwards, which is why the MMIO routing can be frozen with the other buses.
public final class PCIBus: Sendable {
    /// Slots 1...31: slot 0 is the host bridge.
    public static let maximumDeviceCount = 31
    /// Where memory BARs go; the DSDT describes it as the host bridge's memory window.
    public static let memoryWindow = GuestMemoryMap.pciMemoryWindowStart..<GuestMemoryMap.pciMemoryWindowEnd
    /// The first of the eight GSIs (16–23) that INTA#–INTD# of the slots share.
    public static let firstInterruptGSI: UInt32 = 16

    /// Index = slot.
    let slots: [any PCIDevice]

    /// Puts `devices` in slots 1... and places their BARs. Fails when there are more than
    /// 31 devices or their BARs do not fit the memory window.
    public init(devices: [any PCIDevice]) throws(VMMError) {
        try Self.checkCapacity(deviceCount: devices.count)
        var next = Self.memoryWindow.lowerBound
        for device in devices {
            for bar in device.configuration.bars {
                let end = Self.memoryWindow.upperBound
                let address = bar.size <= end - next ? (next + bar.size - 1) & ~(bar.size - 1) : end
                guard bar.size <= end - address else {
                    throw .invalidConfiguration(
                        "the PCI devices' memory BARs need more than the \(Self.memoryWindow.count >> 20) MiB window")
                }
                device.configuration.assign(bar: bar.index, address: address)
                next = address + bar.size
            }
        }
        slots = [PCIHostBridge()] + devices
        for (slot, device) in slots.enumerated() where device.configuration.read(offset: 0x3d, size: 1) != 0 {
            // What the firmware would have written: the GSI the _PRT gives this slot's pin.
            let pin = device.configuration.read(offset: 0x3d, size: 1)
            device.configuration.write(offset: 0x3c, size: 1, value: Self.interruptGSI(slot: slot, pin: Int(pin)))
        }
    }

    /// Fails unless `deviceCount` devices fit the bus's 31 free slots.
    public static func checkCapacity(deviceCount: Int) throws(VMMError) {
        guard deviceCount <= maximumDeviceCount else {
            throw .invalidConfiguration("\(deviceCount) PCI devices do not fit bus 0: at most \(maximumDeviceCount)")
        }
    }

    /// The devices in slots 1..., in slot order.
    public var devices: [any PCIDevice] { Array(slots.dropFirst()) }

    /// The GSI of INTA# of `slot`.
    public static func interruptGSI(slot: Int) -> UInt32 { interruptGSI(slot: slot, pin: 1) }

    /// The GSI of interrupt pin `pin` (1 = INTA# ... 4 = INTD#) of `slot`: the pins rotate
    /// over GSIs 16–23 so that neighbouring slots' INTA# lines do not share a GSI.
    public static func interruptGSI(slot: Int, pin: Int) -> UInt32 {
        firstInterruptGSI + UInt32((slot + pin - 1) & 7)
    }

    /// A configuration read; absent buses, slots and functions read all-ones.
    public func readConfiguration(bus: Int, device: Int, function: Int, offset: Int, size: Int) -> UInt32 {
        guard let target = self.function(bus: bus, device: device, function: function) else {
            return size >= 4 ? .max : (1 << (8 * UInt32(size))) - 1
        }
        return target.configuration.read(offset: offset, size: size)
    }

    /// A configuration write; writes to absent functions are dropped.
    public func writeConfiguration(bus: Int, device: Int, function: Int, offset: Int, size: Int, value: UInt32) {
        self.function(bus: bus, device: device, function: function)?.configuration.write(offset: offset, size: size, value: value)
    }

    private func function(bus: Int, device: Int, function: Int) -> (any PCIDevice)? {
        guard bus == 0, function == 0, device >= 0, device < slots.count else { return nil }
        return slots[device]
    }
}
