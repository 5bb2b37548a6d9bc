import Synchronization

/// virtio-net (virtio 1.x §5.1) on a host tap: receive queue 0, transmit queue 1.
///
/// The tap is opened when the device is made, so a wrong name or a missing capability
/// stops vmm before any VM exists, and it stays open across guest resets.
public final class VirtioNetworkDevice: VirtioDevice {
    public let deviceType = VirtioDeviceType.network
    public let features: UInt64 =
        VirtioNetworkFeature.macAddress | VirtioNetworkFeature.status | VirtioNetworkFeature.checksum
        | VirtioNetworkFeature.guestChecksum | VirtioNetworkFeature.hostTSO4 | VirtioNetworkFeature.hostTSO6
        | VirtioNetworkFeature.hostECN | VirtioNetworkFeature.guestTSO4 | VirtioNetworkFeature.guestTSO6
        | VirtioNetworkFeature.guestECN | VirtioNetworkFeature.mergeableReceiveBuffers
        | VirtioFeature.eventIndex | VirtioFeature.indirectDescriptors
    public let queueMaximumSizes: [UInt16] = [256, 256]

    public let tap: TapDevice
    /// The address the guest sees: the configured one, else one generated from the tap name.
    public let macAddress: MACAddress
    private let log: Logger
    private let counterStore = VirtioNetworkCounterStore()
    private let worker = Mutex<DeviceWorker?>(nil)
    /// What the guest receives and sends, in bytes and frames per second; changeable while the VM runs.
    public let receiveLimiter: RateLimiter
    public let transmitLimiter: RateLimiter

    /// The layout of `struct virtio_net_config` up to `max_virtqueue_pairs`: mac, status
    /// (link up), one queue pair.
    private let configuration: [UInt8]

    public init(configuration: NetworkConfiguration, log: Logger) throws(VMMError) {
        let tap: TapDevice
        if let opened = OpenedAhead.takeTap(configuration.tapName) {
            tap = opened
        } else {
            tap = try TapDevice(name: configuration.tapName)
        }
        self.tap = tap
        macAddress = configuration.macAddress ?? .generated(seed: tap.name)
        self.log = log
        receiveLimiter = RateLimiter(configuration.receiveLimit)
        transmitLimiter = RateLimiter(configuration.transmitLimit)
        let linkUp: UInt16 = 1
        let queuePairs: UInt16 = 1
        self.configuration = macAddress.array + [UInt8(linkUp), 0, UInt8(queuePairs), 0]
        log.info("network: \(tap.isPersistent ? "attached to" : "created") tap \(tap.name), guest MAC \(macAddress)")
    }

    /// Frames and bytes moved and dropped so far.
    public var counters: VirtioNetworkCounters { counterStore.current }

    public func readConfiguration(offset: Int, size: Int) -> UInt32 {
        var value: UInt32 = 0
        for index in 0..<min(max(size, 0), 4) {
            let (at, overflow) = offset.addingReportingOverflow(index)
            guard !overflow, configuration.indices.contains(at) else { continue }
            value |= UInt32(configuration[at]) << (8 * index)
        }
        return value
    }

    /// The MAC address is read-only without VIRTIO_NET_F_CTRL_MAC_ADDR; the rest always is.
    public func writeConfiguration(offset: Int, size: Int, value: UInt32) {}

    public func activate(_ activation: VirtioActivation) throws(VMMError) {
        guard activation.queues.count == 2, activation.notifiers.count == 2 else {
            throw .invalidConfiguration("virtio-net \(tap.name): activated with \(activation.queues.count) queues, not 2")
        }
        reset()
        let offloads = TapOffloads(guestFeatures: activation.features)
        try tap.setOffloads(offloads)
        let path = try VirtioNetworkDataPath(
            tap: tap, activation: activation, offloads: offloads, log: log, counterStore: counterStore,
            limiters: (receiveLimiter, transmitLimiter))
        let started = try DeviceWorker(name: "virtio-net \(tap.name)", sources: path.sources, handler: path.handle)
        worker.withLock { $0 = started }
        receiveLimiter.attach(path.receiveTimer)
        transmitLimiter.attach(path.transmitTimer)
    }

    public func reset() {
        worker.withLock { $0.take() }?.stop()
        receiveLimiter.attach(nil)
        transmitLimiter.attach(nil)
    }
}
