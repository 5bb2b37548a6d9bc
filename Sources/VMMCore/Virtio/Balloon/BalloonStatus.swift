import Synchronization

/// What the balloon device knows: the host's target, the driver's answer, what the host
/// got back, and the guest's last memory statistics.
public struct BalloonStatus: Sendable {
    /// The balloon size the host asks for (`num_pages`), in 4 KiB pages.
    public var targetPages: UInt32 = 0
    /// The balloon size the driver says it holds (`actual`), in 4 KiB pages.
    public var actualPages: UInt32 = 0
    /// Whether a driver has set DRIVER_OK since the last reset.
    public var driverReady = false
    /// Bytes of guest RAM freed on the host by inflation and by free page reporting.
    public var inflatedBytes: UInt64 = 0
    public var reportedBytes: UInt64 = 0
    /// Pages the driver took back out of the balloon.
    public var deflatedPages: UInt64 = 0
    /// Page numbers the driver sent that are not guest RAM (ignored).
    public var refusedPages: UInt64 = 0
    /// The guest's last report on the statistics queue, and when it came (monotonic seconds).
    public var statistics: BalloonStatistics?
    public var statisticsTime: Double?
    /// The statistics buffer the device holds until it wants a fresh report (its head).
    var heldStatisticsBuffer: UInt16?
}

/// The device's state, shared by the device (vCPU and control threads) and its worker.
final class BalloonLedger: Sendable {
    private let status: Mutex<BalloonStatus>

    init(targetPages: UInt32) {
        var status = BalloonStatus()
        status.targetPages = targetPages
        self.status = Mutex(status)
    }

    func withLock<Result>(_ body: (inout BalloonStatus) -> Result) -> Result {
        status.withLock { body(&$0) }
    }
}
