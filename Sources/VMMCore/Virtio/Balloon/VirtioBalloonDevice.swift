import Synchronization

/// virtio-balloon (virtio 1.x §5.5): the host sets a target (`num_pages`), the guest's
/// driver gives that many 4 KiB pages back on the inflate queue and takes them again on
/// the deflate queue; with free page reporting it also hands over ranges it has free.
/// Pages given back leave vmm's memory (`GuestMemory.discard`); the statistics queue
/// brings the guest's memory figures every `statisticsInterval` seconds.
///
/// Every page number and range comes from the guest: anything that is not guest RAM is
/// ignored, so a bad driver can only lose its own memory.
public final class VirtioBalloonDevice: VirtioDevice {
    public let deviceType = VirtioDeviceType.balloon
    public let features: UInt64
    public let queueMaximumSizes: [UInt16]
    public let configuration: BalloonConfiguration
    /// The guest's RAM: the most the balloon may hold.
    public let memorySize: UInt64

    let ledger: BalloonLedger
    private let running = Mutex<Running?>(nil)
    private let log: Logger

    /// `struct virtio_balloon_config`: num_pages, actual, free_page_hint_cmd_id, poison_val.
    private static let configurationSize = 16
    private static let actualOffset = 4

    private struct Running {
        let worker: DeviceWorker
        let interrupt: any VirtioInterrupt
    }

    public init(configuration: BalloonConfiguration, memorySize: UInt64, log: Logger) {
        self.configuration = configuration
        self.memorySize = memorySize
        self.log = log
        var features = VirtioBalloonFeature.statisticsQueue | VirtioFeature.eventIndex
        var sizes: [UInt16] = [256, 256, 4]
        if configuration.deflateOnOOM { features |= VirtioBalloonFeature.deflateOnOOM }
        if configuration.freePageReporting {
            features |= VirtioBalloonFeature.freePageReporting
            // Linux needs room for PAGE_REPORTING_CAPACITY (32) ranges at once.
            sizes.append(64)
        }
        self.features = features
        queueMaximumSizes = sizes
        ledger = BalloonLedger(targetPages: Self.pages(configuration.target))
    }

    /// The balloon's state now.
    public var status: BalloonStatus { ledger.withLock { $0 } }

    /// Asks the guest for a balloon of `bytes` (rounded down to whole pages); the driver
    /// learns it from a configuration-change interrupt.
    public func setTarget(bytes: UInt64) throws(VMMError) {
        guard bytes <= memorySize else {
            throw .invalidConfiguration(
                "balloon target \(bytes) bytes is more than the guest's \(memorySize) bytes of RAM")
        }
        ledger.withLock { $0.targetPages = Self.pages(bytes) }
        running.withLock { $0?.interrupt }?.signalConfigurationChange()
    }

    private static func pages(_ bytes: UInt64) -> UInt32 {
        UInt32(clamping: bytes / GuestMemory.pageSize)
    }

    public func readConfiguration(offset: Int, size: Int) -> UInt32 {
        let (target, actual) = ledger.withLock { ($0.targetPages, $0.actualPages) }
        let fields = [target, actual, 0, 0]
        var value: UInt32 = 0
        for index in 0..<min(max(size, 0), 4) {
            let (at, overflow) = offset.addingReportingOverflow(index)
            guard !overflow, at >= 0, at < Self.configurationSize else { continue }
            value |= (fields[at / 4] >> (8 * UInt32(at % 4)) & 0xff) << (8 * UInt32(index))
        }
        return value
    }

    /// Only `actual` is the driver's to write, whole.
    public func writeConfiguration(offset: Int, size: Int, value: UInt32) {
        guard offset == Self.actualOffset, size == 4 else { return }
        ledger.withLock { $0.actualPages = value }
    }

    public func activate(_ activation: VirtioActivation) throws(VMMError) {
        stopWorker()
        let service = try BalloonQueueService(
            activation: activation, statisticsInterval: configuration.statisticsInterval, ledger: ledger, log: log)
        let worker = try DeviceWorker(name: "virtio-balloon", sources: service.sources, handler: service.handle)
        ledger.withLock { $0.driverReady = true }
        running.withLock { $0 = Running(worker: worker, interrupt: activation.interrupt) }
    }

    /// The driver starts over with an empty balloon: its pages and its statistics buffer
    /// are gone. The target stays: it is the host's wish, whatever the guest does.
    public func reset() {
        stopWorker()
        ledger.withLock {
            $0.driverReady = false
            $0.actualPages = 0
            $0.heldStatisticsBuffer = nil
        }
    }

    /// Keeps the statistics buffer the device holds: the same queues come back.
    public func quiesce() {
        stopWorker()
    }

    private func stopWorker() {
        running.withLock { $0.take() }?.worker.stop()
    }
}
