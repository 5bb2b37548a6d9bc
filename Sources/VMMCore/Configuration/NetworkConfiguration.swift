import DeviceOptions

/// A virtio-net interface backed by a host tap device.
public struct NetworkConfiguration: Equatable, Sendable {
    /// Name of the tap: an existing (persistent) tap is attached to; a name that does not
    /// exist yet makes vmm create the tap, which disappears when vmm exits. nil lets the
    /// kernel choose a name for a tap vmm creates.
    public var tapName: String?
    /// The guest's MAC address; nil means one generated from the tap name, stable across runs.
    public var macAddress: MACAddress?
    /// Token buckets on what the guest receives and sends; unlimited by default.
    public var receiveLimit: RateLimitOption
    public var transmitLimit: RateLimitOption

    public init(
        tapName: String?, macAddress: MACAddress? = nil, receiveLimit: RateLimitOption = RateLimitOption(),
        transmitLimit: RateLimitOption = RateLimitOption()
    ) {
        self.tapName = tapName
        self.macAddress = macAddress
        self.receiveLimit = receiveLimit
        self.transmitLimit = transmitLimit
    }
}

/// A 48-bit IEEE 802 MAC address.
public struct MACAddress: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var bytes: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)

    public init(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8, _ b4: UInt8, _ b5: UInt8) {
        bytes = (b0, b1, b2, b3, b4, b5)
    }

    public var array: [UInt8] { [bytes.0, bytes.1, bytes.2, bytes.3, bytes.4, bytes.5] }

    public var description: String {
        array.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: ":")
    }

    public static func == (a: MACAddress, b: MACAddress) -> Bool { a.array == b.array }
    public func hash(into hasher: inout Hasher) { hasher.combine(array) }
}
