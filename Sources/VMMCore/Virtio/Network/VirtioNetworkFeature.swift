/// virtio-net feature bits (virtio 1.x §5.1.3) this device deals with.
public enum VirtioNetworkFeature {
    /// The driver may send frames with a partial checksum.
    public static let checksum: UInt64 = 1 << 0
    /// The driver takes frames with a partial checksum.
    public static let guestChecksum: UInt64 = 1 << 1
    public static let macAddress: UInt64 = 1 << 5
    public static let guestTSO4: UInt64 = 1 << 7
    public static let guestTSO6: UInt64 = 1 << 8
    public static let guestECN: UInt64 = 1 << 9
    public static let hostTSO4: UInt64 = 1 << 11
    public static let hostTSO6: UInt64 = 1 << 12
    public static let hostECN: UInt64 = 1 << 13
    /// A received frame may span several receive buffers (`num_buffers` in the header).
    public static let mergeableReceiveBuffers: UInt64 = 1 << 15
    public static let status: UInt64 = 1 << 16
}
