#if canImport(Glibc)
import Glibc
#endif

/// One activation's packet pump between the tap and the two virtqueues.
///
/// Everything here runs on the device's worker thread, which owns the queues while the
/// device is active; hence no locks. Frames move by `readv`/`writev` straight between
/// the tap and guest buffers, with no copy in between.
final class VirtioNetworkDataPath: @unchecked Sendable {
    static let receiveQueue = 0
    static let transmitQueue = 1
    /// Linux refuses `readv`/`writev` with more vectors than this (UIO_MAXIOV).
    static let maximumIOVectors = 1024
    /// Header plus 64 KiB: the longest transmit chain passed on to the tap.
    static let largestTransmitChain = TapDevice.headerSize + 65536

    let tap: TapDevice
    let receive: Virtqueue?
    let transmit: Virtqueue?
    let receiveNotifier: EventNotifier
    let transmitNotifier: EventNotifier
    let interrupt: any VirtioInterrupt
    let deviceNeedsReset: @Sendable (String) -> Void
    let log: Logger
    let counterStore: VirtioNetworkCounterStore
    let receiveLimiter: RateLimiter
    let transmitLimiter: RateLimiter
    /// Armed while a direction waits for its limiter's tokens.
    let receiveTimer: DeadlineTimer
    let transmitTimer: DeadlineTimer
    let mergeable: Bool
    /// The room (header included) the largest frame the tap may deliver needs.
    let receiveSpaceWanted: Int

    /// Receive chains taken from the queue for the next frame but not used yet; with
    /// mergeable buffers a frame waits until they add up to `receiveSpaceWanted`.
    var pendingReceive: [DescriptorChain] = []
    var pendingReceiveSpace = 0
    var pendingReceiveBuffers = 0
    /// No receive buffers: the tap is left out of the poll set until the driver notifies.
    var waitingForReceiveBuffers = false
    /// A direction whose limiter said wait: receiving leaves the tap out of the poll set,
    /// transmitting its notifier, until the direction's timer fires.
    var receiveThrottled = false
    var transmitThrottled = false
    var tapFailed = false
    /// What each descriptor of the last `sources()` is, in order.
    private var polled: [Source] = []

    enum Source {
        case receiveNotifier, transmitNotifier, tap, receiveTimer, transmitTimer
    }
    /// A broken ring (either queue) stops the whole device until reset.
    var failed: Bool { receive?.isBroken == true || transmit?.isBroken == true }
    /// Counts since the last hand-over to `counterStore`.
    var counters = VirtioNetworkCounters()
    /// Reused for every `readv`/`writev`.
    var vectors: [iovec] = []
    /// The last vector of every `readv`: the tap returns at most what fits, so a frame
    /// that reaches this byte did not fit the guest's buffers.
    let overflowByte = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)

    init(
        tap: TapDevice, activation: VirtioActivation, offloads: TapOffloads, log: Logger,
        counterStore: VirtioNetworkCounterStore, limiters: (receive: RateLimiter, transmit: RateLimiter)
    ) throws(VMMError) {
        self.tap = tap
        receiveLimiter = limiters.receive
        transmitLimiter = limiters.transmit
        receiveTimer = try DeadlineTimer()
        transmitTimer = try DeadlineTimer()
        receive = activation.queues[Self.receiveQueue]
        transmit = activation.queues[Self.transmitQueue]
        receiveNotifier = activation.notifiers[Self.receiveQueue]
        transmitNotifier = activation.notifiers[Self.transmitQueue]
        interrupt = activation.interrupt
        deviceNeedsReset = activation.deviceNeedsReset
        self.log = log
        self.counterStore = counterStore
        mergeable = activation.hasFeature(VirtioNetworkFeature.mergeableReceiveBuffers)
        // Ethernet and VLAN headers, plus the MTU or the largest IP packet for segments.
        receiveSpaceWanted = TapDevice.headerSize + 14 + 4 + (offloads.allowsLargeFrames ? 65535 : 1500)
        vectors.reserveCapacity(Self.maximumIOVectors)
    }

    deinit { overflowByte.deallocate() }

    /// The descriptors the worker polls: the receive notifier, the transmit notifier unless
    /// transmitting waits for tokens, the tap while receive buffers wait and receiving does
    /// not wait for tokens, and both throttle timers.
    func sources() -> [Int32] {
        polled = []
        guard !failed else { return [] }
        polled.append(.receiveNotifier)
        if !transmitThrottled { polled.append(.transmitNotifier) }
        if receive != nil, !waitingForReceiveBuffers, !tapFailed, !receiveThrottled { polled.append(.tap) }
        polled += [.receiveTimer, .transmitTimer]
        return polled.map { source in
            switch source {
            case .receiveNotifier: return receiveNotifier.fileDescriptor
            case .transmitNotifier: return transmitNotifier.fileDescriptor
            case .tap: return tap.fileDescriptor
            case .receiveTimer: return receiveTimer.fileDescriptor
            case .transmitTimer: return transmitTimer.fileDescriptor
            }
        }
    }

    func handle(ready: [Int]) {
        let sources = Set(ready.map { polled[$0] })
        if sources.contains(.transmitTimer) { transmitTimer.acknowledge() }
        if sources.contains(.receiveTimer) { receiveTimer.acknowledge() }
        if sources.contains(.transmitNotifier) { transmitNotifier.wait() }
        if sources.contains(.transmitNotifier) || sources.contains(.transmitTimer) { transmitAll() }
        let receiveNotified = sources.contains(.receiveNotifier)
        if receiveNotified {
            receiveNotifier.wait()
            waitingForReceiveBuffers = false
        }
        if receiveNotified || sources.contains(.tap) || sources.contains(.receiveTimer) { receiveAll() }
        if counters != VirtioNetworkCounters() {
            counterStore.add(counters)
            counters = VirtioNetworkCounters()
        }
    }

    /// The next chain of `queue`, or nil; a broken ring stops the device until reset.
    func nextChain(from queue: Virtqueue, name: String) -> DescriptorChain? {
        guard !failed else { return nil }
        do {
            return try queue.nextChain()
        } catch {
            deviceNeedsReset("virtio-net \(tap.name) \(name): \(error)")
            return nil
        }
    }

    func interruptIfNeeded(_ queue: Virtqueue, index: Int, usedBefore: UInt16) {
        if queue.usedIndex != usedBefore, queue.needsInterrupt() { interrupt.signalUsedBuffers(queue: index) }
    }
}
