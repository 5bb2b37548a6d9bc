import DeviceOptions
import Synchronization

/// A virtio-blk disk (virtio 1.x §5.2) backed by a raw image: one request queue whose
/// requests run in parallel on a few I/O threads.
public final class VirtioBlockDevice: VirtioDevice {
    public let deviceType = VirtioDeviceType.block
    public let features: UInt64
    public let queueMaximumSizes: [UInt16] = [256]

    let configuration: VirtioBlockConfiguration
    /// What the guest changed while a snapshot copied this disk.
    public let writeLog = BlockWriteLog()
    /// The raw image, when the device stands on one (not in tests' storage wrappers).
    let image: BlockImage?
    private let storage: any BlockStorage
    private let serial: [UInt8]
    private let ioThreads: Int
    private let log: Logger
    private let service = Mutex<VirtioBlockQueueService?>(nil)
    /// Bytes and requests per second; changeable while the VM runs.
    public let rateLimiter: RateLimiter

    /// Opens and locks the image now, so that a wrong path, a bad size or an image in use
    /// is reported before the VM is built.
    public convenience init(configuration: DiskConfiguration, log: Logger) throws(VMMError) {
        let image = try BlockImage(path: configuration.path, readOnly: configuration.readOnly)
        self.init(storage: image, serial: image.serial, rateLimit: configuration.rateLimit, log: log)
    }

    /// A device over any storage; `serial` is what GET_ID returns (at most 20 bytes used).
    /// Four I/O threads: on a 2-CPU host, page-cached 4 KiB random reads at queue depth 32
    /// ran at 28k IOPS with 1 thread, 32k with 4, 20k with 8 and 15k with 16; more threads
    /// only pay off when the disk itself is slow.
    init(
        storage: any BlockStorage, serial: [UInt8], ioThreads: Int = 4, rateLimit: RateLimitOption = RateLimitOption(),
        log: Logger
    ) {
        self.storage = LoggedBlockStorage(base: storage, log: writeLog)
        rateLimiter = RateLimiter(rateLimit)
        self.image = storage as? BlockImage
        self.serial = serial
        self.ioThreads = ioThreads
        self.log = log
        let sectors = storage.size / VirtioBlockConfiguration.sectorSize
        let configuration = VirtioBlockConfiguration(capacity: sectors)
        self.configuration = configuration
        var features = VirtioFeature.eventIndex | VirtioFeature.indirectDescriptors
            | VirtioBlockFeature.sizeMaximum | VirtioBlockFeature.segmentMaximum
            | VirtioBlockFeature.blockSize | VirtioBlockFeature.flush
        if storage.isReadOnly {
            features |= VirtioBlockFeature.readOnly
        } else {
            features |= VirtioBlockFeature.discard | VirtioBlockFeature.writeZeroes
        }
        self.features = features
    }

    /// The disk's size in bytes.
    public var size: UInt64 { storage.size }

    public func readConfiguration(offset: Int, size: Int) -> UInt32 {
        let bytes = configuration.bytes
        guard [1, 2, 4].contains(size), offset >= 0 else { return 0 }
        var value: UInt32 = 0
        for index in 0..<size where offset + index < bytes.count {
            value |= UInt32(bytes[offset + index]) << (8 * index)
        }
        return value
    }

    /// The configuration is read-only here (no CONFIG_WCE): writes are ignored.
    public func writeConfiguration(offset: Int, size: Int, value: UInt32) {}

    public func activate(_ activation: VirtioActivation) throws(VMMError) {
        reset()
        // A driver may leave the only queue disabled; then there is nothing to serve.
        guard let queue = activation.queues.first ?? nil, let notifier = activation.notifiers.first else { return }
        let service = try VirtioBlockQueueService(
            queue: queue, notifier: notifier, interrupt: activation.interrupt,
            deviceNeedsReset: activation.deviceNeedsReset, storage: storage, serial: serial,
            configuration: configuration, ioThreads: ioThreads, rateLimiter: rateLimiter, log: log)
        self.service.withLock { $0 = service }
    }

    /// Returns once every request in flight has completed and the device's threads ended:
    /// the guest may reuse the memory right after.
    public func reset() {
        service.withLock { service in
            defer { service = nil }
            return service
        }?.stop()
    }
}
