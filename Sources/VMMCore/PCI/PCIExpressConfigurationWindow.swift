/// The PCI Express enhanced configuration access mechanism (ECAM, "MMCONFIG") for bus 0:
/// 4 KiB of configuration space per function, at `device << 15 | function << 12`.
///
/// The MCFG table announces it; the guest uses it for registers above 0xff (Linux uses
/// 0xcf8 for the rest while mechanism #1 works).
public final class PCIExpressConfigurationWindow: MMIODevice {
    /// One bus: 32 devices × 8 functions × 4 KiB.
    public static let size: UInt64 = 1 << 20

    private let bus: PCIBus

    public init(bus: PCIBus) { self.bus = bus }

    public func read(offset: UInt64, size: Int) -> UInt64 {
        // Configuration accesses are at most a dword; wider ones read all-ones.
        guard offset < Self.size, size <= 4 else { return size >= 8 ? .max : (1 << UInt64(8 * size)) - 1 }
        return UInt64(bus.readConfiguration(
            bus: 0, device: Int(offset >> 15), function: Int(offset >> 12 & 7), offset: Int(offset & 0xfff), size: size))
    }

    public func write(offset: UInt64, size: Int, value: UInt64) {
        guard offset < Self.size, size <= 4 else { return }
        bus.writeConfiguration(
            bus: 0, device: Int(offset >> 15), function: Int(offset >> 12 & 7), offset: Int(offset & 0xfff), size: size,
            value: UInt32(truncatingIfNeeded: value))
    }
}
