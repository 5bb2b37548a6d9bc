import Synchronization

/// PCI configuration mechanism #1 (0xcf8 address, 0xcfc data) with no devices behind it:
/// the address latch reads back, every configuration read gives all-ones.
public final class EmptyPCIConfigSpace: PortIODevice {
    public static let port: UInt16 = 0xcf8
    public static let portCount: UInt16 = 8
    private let address = Mutex<UInt32>(0)

    public init() {}

    public func read(offset: UInt16, size: Int) -> UInt32 {
        if offset == 0 && size == 4 { return address.withLock { $0 } }
        return size >= 4 ? .max : (1 << (size * 8)) - 1
    }

    public func write(offset: UInt16, size: Int, value: UInt32) {
        if offset == 0 && size == 4 { address.withLock { $0 = value } }
    }
}
