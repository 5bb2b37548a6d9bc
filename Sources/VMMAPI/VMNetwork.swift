/// A virtio-net NIC in a VM definition: `{"tap": "vmtap0", "mac": "02:00:00:00:00:01"}`.
public struct VMNetwork: Codable, Equatable, Sendable {
    /// The host tap it is attached to (created for the run when it does not exist); absent,
    /// vmm creates a tap whose name the kernel chooses.
    public var tap: String?
    /// The guest's MAC address, `aa:bb:cc:dd:ee:ff`. The daemon fills in a generated one
    /// (stable, locally administered) when a definition has none.
    public var mac: String?
    /// Bytes and frames per second the guest receives, and sends; nil: unlimited. Both are
    /// changeable while the VM runs.
    public var receiveLimit: VMRateLimit?
    public var transmitLimit: VMRateLimit?

    public init(tap: String? = nil, mac: String? = nil, receiveLimit: VMRateLimit? = nil, transmitLimit: VMRateLimit? = nil) {
        self.tap = tap
        self.mac = mac
        self.receiveLimit = receiveLimit
        self.transmitLimit = transmitLimit
    }
}
