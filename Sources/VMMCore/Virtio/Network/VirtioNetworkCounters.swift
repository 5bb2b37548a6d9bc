import Synchronization

/// What a virtio-net device moved and dropped since it was created. Bytes count frames
/// without the virtio-net header.
public struct VirtioNetworkCounters: Equatable, Sendable {
    public var receivedPackets: UInt64 = 0
    public var receivedBytes: UInt64 = 0
    /// Frames from the tap lost because the guest's buffers were too small for them.
    public var receiveDrops: UInt64 = 0
    public var transmittedPackets: UInt64 = 0
    public var transmittedBytes: UInt64 = 0
    /// Guest frames not sent: chains shorter than the header or too long, or refused by the tap.
    public var transmitDrops: UInt64 = 0

    public init() {}

    mutating func add(_ other: VirtioNetworkCounters) {
        receivedPackets += other.receivedPackets
        receivedBytes += other.receivedBytes
        receiveDrops += other.receiveDrops
        transmittedPackets += other.transmittedPackets
        transmittedBytes += other.transmittedBytes
        transmitDrops += other.transmitDrops
    }
}

/// The running totals, shared by the device (readers) and its worker (the one writer).
final class VirtioNetworkCounterStore: Sendable {
    private let totals = Mutex(VirtioNetworkCounters())

    var current: VirtioNetworkCounters { totals.withLock { $0 } }

    func add(_ delta: VirtioNetworkCounters) { totals.withLock { $0.add(delta) } }
}
