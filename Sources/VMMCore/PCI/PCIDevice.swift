/// A PCI function on bus 0, behind the host bridge.
///
/// The bus routes configuration cycles (0xcf8/0xcfc and ECAM) to `configuration` and
/// MMIO accesses inside an assigned memory BAR to `readBAR`/`writeBAR`. vCPU threads call
/// these concurrently; devices guard their own state.
public protocol PCIDevice: AnyObject, Sendable {
    /// The standard header, BARs and capability list.
    var configuration: PCIConfigurationSpace { get }
    /// `offset` is relative to the BAR's base; `size` is 1, 2, 4 or 8.
    func readBAR(_ index: Int, offset: UInt64, size: Int) -> UInt64
    func writeBAR(_ index: Int, offset: UInt64, size: Int, value: UInt64)
}

/// The identity registers of a type-0 configuration header.
public struct PCIIdentity: Equatable, Sendable {
    public var vendorID: UInt16
    public var deviceID: UInt16
    public var revisionID: UInt8
    /// Base class, subclass and programming interface (e.g. 0x020000 for Ethernet).
    public var classCode: UInt32
    public var subsystemVendorID: UInt16
    public var subsystemID: UInt16

    public init(
        vendorID: UInt16, deviceID: UInt16, revisionID: UInt8, classCode: UInt32, subsystemVendorID: UInt16,
        subsystemID: UInt16
    ) {
        self.vendorID = vendorID
        self.deviceID = deviceID
        self.revisionID = revisionID
        self.classCode = classCode
        self.subsystemVendorID = subsystemVendorID
        self.subsystemID = subsystemID
    }
}

/// A memory BAR a function asks for; the bus chooses its address.
public struct PCIBar: Equatable, Sendable {
    /// BAR register index, 0...5 (a 64-bit BAR also uses index + 1).
    public var index: Int
    /// A power of two, at least 4 KiB.
    public var size: UInt64
    public var is64Bit: Bool
    public var isPrefetchable: Bool

    public init(index: Int, size: UInt64, is64Bit: Bool = false, isPrefetchable: Bool = false) {
        self.index = index
        self.size = size
        self.is64Bit = is64Bit
        self.isPrefetchable = isPrefetchable
    }
}

/// One entry of the capability list: its ID and the bytes after the ID and next-pointer
/// bytes. Offsets given to the hooks count from the capability's ID byte. A write that
/// starts in the capability goes to `write`; without one the capability is read-only.
/// A read inside the body goes to `read`, whose nil answer means "the body bytes".
public struct PCICapability: Sendable {
    public var id: UInt8
    public var body: [UInt8]
    public var read: (@Sendable (_ offset: Int, _ size: Int) -> UInt32?)?
    public var write: (@Sendable (_ offset: Int, _ size: Int, _ value: UInt32) -> Void)?

    public init(
        id: UInt8, body: [UInt8], read: (@Sendable (Int, Int) -> UInt32?)? = nil,
        write: (@Sendable (Int, Int, UInt32) -> Void)? = nil
    ) {
        self.id = id
        self.body = body
        self.read = read
        self.write = write
    }

    public static let vendorSpecificID: UInt8 = 0x09
    public static let msixID: UInt8 = 0x11
}
