/// A virtio device model: the part of a device that does not depend on the transport.
///
/// The transport (virtio-pci) owns feature negotiation, status and queue configuration;
/// when the driver sets DRIVER_OK it hands the device its queues in `activate`, and on a
/// reset it calls `reset`. Device-specific work runs on the device's own threads, never on
/// a vCPU thread: `activate` starts them and `reset` stops them.
public protocol VirtioDevice: AnyObject, Sendable {
    var deviceType: VirtioDeviceType { get }
    /// Device-type feature bits, plus the ring features the device handles
    /// (`VirtioFeature.eventIndex`, `.indirectDescriptors`); the transport adds VERSION_1.
    var features: UInt64 { get }
    /// The largest size of each virtqueue (a power of two); the count is the number of queues.
    var queueMaximumSizes: [UInt16] { get }

    /// Reads `size` (1, 2 or 4) bytes of the device-specific configuration structure at
    /// `offset`, little-endian; bytes past its end read as zero.
    func readConfiguration(offset: Int, size: Int) -> UInt32
    /// Writes to the device-specific configuration; most devices ignore writes.
    func writeConfiguration(offset: Int, size: Int, value: UInt32)

    /// Starts serving the queues. Called on a vCPU thread when the driver sets DRIVER_OK;
    /// returns once the device's worker runs. A thrown error marks the device NEEDS_RESET.
    func activate(_ activation: VirtioActivation) throws(VMMError)
    /// Stops serving: returns only once no device thread touches the queues or guest memory.
    func reset()
    /// Stops serving for a snapshot, which then activates the device again on the same
    /// queues: state that outlives the device's threads but not a reset is kept.
    func quiesce()
}

extension VirtioDevice {
    /// Most devices keep nothing across a reset that a quiesce must keep.
    public func quiesce() { reset() }
}

/// Virtio device IDs (virtio 1.x §5) and the PCI class codes guests expect for them.
public enum VirtioDeviceType: UInt16, Sendable {
    case network = 1
    case block = 2
    case entropy = 4
    case balloon = 5

    /// Base class, subclass and programming interface, as QEMU reports them.
    public var pciClassCode: UInt32 {
        switch self {
        case .network: return 0x02_00_00
        case .block: return 0x01_80_00
        case .entropy, .balloon: return 0x00_ff_00
        }
    }
}

/// Transport-independent feature bits (virtio 1.x §6).
public enum VirtioFeature {
    public static let indirectDescriptors: UInt64 = 1 << 28
    public static let eventIndex: UInt64 = 1 << 29
    public static let version1: UInt64 = 1 << 32
}

/// How a device tells the driver about used buffers and configuration changes; the
/// transport maps this onto MSI-X vectors or onto INTx and the ISR register.
public protocol VirtioInterrupt: Sendable {
    func signalUsedBuffers(queue: Int)
    func signalConfigurationChange()
}

/// What a device is given when the driver sets DRIVER_OK.
public struct VirtioActivation: Sendable {
    public let memory: GuestMemory
    /// The features the driver accepted.
    public let features: UInt64
    /// One per queue the device declared; `nil` where the driver left the queue disabled.
    public let queues: [Virtqueue?]
    /// One per queue: signalled (by KVM through an ioeventfd, or by the transport) when
    /// the driver notifies the queue. Device workers wait on these file descriptors.
    public let notifiers: [EventNotifier]
    public let interrupt: any VirtioInterrupt
    /// Reports that the guest broke the protocol: the transport sets DEVICE_NEEDS_RESET,
    /// signals a configuration change and logs `reason`. The device must stop using the queue.
    public let deviceNeedsReset: @Sendable (_ reason: String) -> Void

    public init(
        memory: GuestMemory, features: UInt64, queues: [Virtqueue?], notifiers: [EventNotifier],
        interrupt: any VirtioInterrupt, deviceNeedsReset: @escaping @Sendable (String) -> Void
    ) {
        self.memory = memory
        self.features = features
        self.queues = queues
        self.notifiers = notifiers
        self.interrupt = interrupt
        self.deviceNeedsReset = deviceNeedsReset
    }

    public func hasFeature(_ bit: UInt64) -> Bool { features & bit != 0 }
}
