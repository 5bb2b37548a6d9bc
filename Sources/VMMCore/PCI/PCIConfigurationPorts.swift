import Synchronization

/// PCI configuration mechanism #1: the address register at 0xcf8 and the data window at
/// 0xcfc–0xcff.
///
/// The address register (enable bit 31, bus, device, function, dword register) is a
/// dword-only register; byte accesses to 0xcf8–0xcfb touch nothing and read all-ones,
/// which makes Linux's probe for mechanism #2 fail, as it should. Data accesses while
/// bit 31 is clear read all-ones and are dropped.
public final class PCIConfigurationPorts: PortIODevice {
    public static let port: UInt16 = 0xcf8
    public static let portCount: UInt16 = 8
    private static let enableBit: UInt32 = 1 << 31
    private static let dataOffset: UInt16 = 4

    private let bus: PCIBus
    private let address = Mutex<UInt32>(0)

    public init(bus: PCIBus) { self.bus = bus }

    public func read(offset: UInt16, size: Int) -> UInt32 {
        if offset == 0 && size == 4 { return address.withLock { $0 } }
        guard let target = target(offset: offset, size: size) else { return size >= 4 ? .max : (1 << (8 * UInt32(size))) - 1 }
        return bus.readConfiguration(
            bus: target.bus, device: target.device, function: target.function, offset: target.register, size: size)
    }

    public func write(offset: UInt16, size: Int, value: UInt32) {
        if offset == 0 && size == 4 { return address.withLock { $0 = value } }
        guard let target = target(offset: offset, size: size) else { return }
        bus.writeConfiguration(
            bus: target.bus, device: target.device, function: target.function, offset: target.register, size: size,
            value: value)
    }

    /// The function and register a data-window access at `offset` (4...7) addresses.
    private func target(offset: UInt16, size: Int) -> (bus: Int, device: Int, function: Int, register: Int)? {
        guard offset >= Self.dataOffset, Int(offset - Self.dataOffset) + size <= 4 else { return nil }
        let address = address.withLock { $0 }
        guard address & Self.enableBit != 0 else { return nil }
        return (
            bus: Int(address >> 16 & 0xff), device: Int(address >> 11 & 0x1f), function: Int(address >> 8 & 0x7),
            register: Int(address & 0xfc) + Int(offset - Self.dataOffset)
        )
    }
}
