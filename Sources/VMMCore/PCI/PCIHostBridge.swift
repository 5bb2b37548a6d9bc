/// Device 0 of bus 0: the host bridge, which only identifies itself.
///
/// It claims to be QEMU's generic PCIe host bridge (Red Hat 1b36:0008): an ID no Linux
/// quirk or chipset probe matches. Intel's IDs would make Linux read chipset registers
/// (e.g. the MCH's PCIEXBAR to find ECAM) that this bridge does not have.
public final class PCIHostBridge: PCIDevice {
    public static let identity = PCIIdentity(
        vendorID: 0x1b36, deviceID: 0x0008, revisionID: 0, classCode: 0x06_00_00,
        subsystemVendorID: 0x1af4, subsystemID: 0x1100)

    public let configuration = PCIConfigurationSpace(
        identity: PCIHostBridge.identity, bars: [], capabilities: [], interruptPin: 0)

    public init() {}

    public func readBAR(_ index: Int, offset: UInt64, size: Int) -> UInt64 { .max }

    public func writeBAR(_ index: Int, offset: UInt64, size: Int, value: UInt64) {}
}
