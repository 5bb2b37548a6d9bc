/// Where the virtio-pci structures live: BAR 0 holds the common configuration, ISR,
/// device configuration and notification areas at fixed 4 KiB-aligned offsets (so each
/// could later be mapped separately); BAR 1 holds the MSI-X table and pending bits.
enum VirtioPCILayout {
    static let structuresBar = 0
    static let msixBar = 1

    static let commonOffset: UInt64 = 0x0000
    static let commonLength: UInt64 = 0x38
    static let isrOffset: UInt64 = 0x1000
    static let isrLength: UInt64 = 4
    static let deviceOffset: UInt64 = 0x2000
    static let deviceLength: UInt64 = 0x1000
    static let notifyOffset: UInt64 = 0x3000
    /// Each queue notifies at its own address, so one ioeventfd per queue needs no datamatch.
    static let notifyMultiplier: UInt32 = 4
    static let structuresBarSize: UInt64 = 0x4000

    static let msixTableOffset: UInt32 = 0
    static let msixPendingBitsOffset: UInt32 = 0x800
    static let msixBarSize: UInt64 = 0x1000
    /// Table (16 bytes per vector) and pending bits must fit the 4 KiB BAR.
    static let maximumVectors = 128

    /// Virtio vendor capability `cfg_type` values (virtio 1.x §4.1.4).
    enum CapabilityType: UInt8 {
        case common = 1
        case notify = 2
        case isr = 3
        case device = 4
    }

    /// The four vendor-specific capabilities a modern driver looks for.
    static func capabilities(queueCount: Int) -> [PCICapability] {
        func capability(_ type: CapabilityType, offset: UInt64, length: UInt64, extra: [UInt8] = []) -> PCICapability {
            // cap_len counts the ID and next bytes the configuration space adds in front.
            var body: [UInt8] = [UInt8(16 + extra.count), type.rawValue, UInt8(structuresBar), 0, 0, 0]
            body += littleEndianBytes(UInt32(offset)) + littleEndianBytes(UInt32(length)) + extra
            return PCICapability(id: PCICapability.vendorSpecificID, body: body)
        }
        let notifyLength = UInt64(max(queueCount, 1)) * UInt64(notifyMultiplier)
        return [
            capability(.common, offset: commonOffset, length: commonLength),
            capability(.notify, offset: notifyOffset, length: notifyLength, extra: littleEndianBytes(notifyMultiplier)),
            capability(.isr, offset: isrOffset, length: isrLength),
            capability(.device, offset: deviceOffset, length: deviceLength),
        ]
    }

    private static func littleEndianBytes(_ value: UInt32) -> [UInt8] {
        (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }
}
