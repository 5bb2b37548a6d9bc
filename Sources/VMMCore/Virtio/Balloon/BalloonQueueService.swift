/// The balloon's queues, served on its worker thread: page numbers from the inflate and
/// deflate queues, ranges from the reporting queue, reports from the statistics queue,
/// and a timer that hands the statistics buffer back when a fresh report is due.
///
/// Only the worker thread touches this object; what others see goes into the ledger.
final class BalloonQueueService: @unchecked Sendable {
    /// The most page numbers one request is read for (1 GiB of guest RAM); Linux sends at
    /// most 256. The rest of a longer array is ignored, so a huge buffer costs the worker
    /// no more than this.
    static let maximumPagesPerRequest = 1 << 18

    private struct Queue {
        let role: BalloonQueueRole
        let index: Int
        let queue: Virtqueue
        let notifier: EventNotifier
    }

    private enum Source {
        case queue(Int)
        case timer
    }

    private let queues: [Queue]
    private let timer: IntervalTimer?
    private let activation: VirtioActivation
    private let ledger: BalloonLedger
    private let log: Logger
    /// What `sources` returned last, so `handle` can tell which descriptor is which.
    private var watched: [Source] = []
    private var warnedAboutDiscard = false

    init(activation: VirtioActivation, statisticsInterval: UInt32, ledger: BalloonLedger, log: Logger) throws(VMMError) {
        var queues: [Queue] = []
        for (index, role) in BalloonQueueRole.roles(for: activation.features).enumerated()
        where index < activation.queues.count && index < activation.notifiers.count {
            guard let queue = activation.queues[index] else { continue }
            queues.append(Queue(role: role, index: index, queue: queue, notifier: activation.notifiers[index]))
        }
        self.queues = queues
        let hasStatistics = queues.contains { $0.role == .statistics }
        timer = hasStatistics && statisticsInterval > 0 ? try IntervalTimer(seconds: statisticsInterval) : nil
        self.activation = activation
        self.ledger = ledger
        self.log = log
    }

    var sources: @Sendable () -> [Int32] {
        { [self] in
            watched = queues.indices.filter { !queues[$0].queue.isBroken }.map { .queue($0) }
            if timer != nil { watched.append(.timer) }
            return watched.map { source in
                switch source {
                case .queue(let index): return queues[index].notifier.fileDescriptor
                case .timer: return timer!.fileDescriptor
                }
            }
        }
    }

    var handle: @Sendable ([Int]) -> Void {
        { [self] ready in
            for position in ready {
                switch watched[position] {
                case .queue(let index):
                    queues[index].notifier.wait()
                    serve(queues[index])
                case .timer:
                    timer?.acknowledge()
                    requestStatistics()
                }
            }
        }
    }

    private func serve(_ queue: Queue) {
        let usedBefore = queue.queue.usedIndex
        while true {
            let chain: DescriptorChain
            do throws(VirtqueueError) {
                guard let next = try queue.queue.nextChain() else { break }
                chain = next
            } catch {
                activation.deviceNeedsReset("virtio-balloon \(queue.role) queue: \(error)")
                break
            }
            switch queue.role {
            case .inflate:
                inflate(Self.pageNumbers(in: chain))
                queue.queue.addUsed(head: chain.head, written: 0)
            case .deflate:
                let pages = Self.pageNumbers(in: chain).filter { activation.memory.contains(Self.address(of: $0), count: 4096) }
                ledger.withLock { $0.deflatedPages += UInt64(pages.count) }
                queue.queue.addUsed(head: chain.head, written: 0)
            case .reporting:
                var freed: UInt64 = 0
                for buffer in chain.writable { freed += discard(buffer.address, count: UInt64(buffer.count)) }
                ledger.withLock { $0.reportedBytes += freed }
                queue.queue.addUsed(head: chain.head, written: 0)
            case .statistics:
                receiveStatistics(chain, on: queue.queue)
            }
        }
        if queue.queue.usedIndex != usedBefore, queue.queue.needsInterrupt() {
            activation.interrupt.signalUsedBuffers(queue: queue.index)
        }
    }

    /// Frees the pages on the host, one call per run of consecutive pages.
    private func inflate(_ pageNumbers: [UInt32]) {
        let memory = activation.memory
        var addresses = pageNumbers.map(Self.address)
        let before = addresses.count
        addresses.removeAll { !memory.contains($0, count: Int(GuestMemory.pageSize)) }
        addresses.sort()
        var freed: UInt64 = 0
        var run: Range<UInt64>?
        for address in addresses {
            if let current = run, address <= current.upperBound {
                // Consecutive, or a page listed twice.
                run = current.lowerBound..<max(current.upperBound, address + GuestMemory.pageSize)
                continue
            }
            if let current = run { freed += discard(current.lowerBound, count: UInt64(current.count)) }
            run = address..<address + GuestMemory.pageSize
        }
        if let current = run { freed += discard(current.lowerBound, count: UInt64(current.count)) }
        ledger.withLock {
            $0.inflatedBytes += freed
            $0.refusedPages += UInt64(before - addresses.count)
        }
    }

    private func discard(_ address: UInt64, count: UInt64) -> UInt64 {
        do {
            return try activation.memory.discard(address, count: count)
        } catch {
            // The guest keeps running on memory the host could not free.
            if !warnedAboutDiscard { log.warning("virtio-balloon: \(error)") }
            warnedAboutDiscard = true
            return 0
        }
    }

    /// Keeps the statistics and the buffer: giving it back later asks for the next report.
    private func receiveStatistics(_ chain: DescriptorChain, on queue: Virtqueue) {
        let report = BalloonStatistics(
            report: chain.read(count: BalloonStatistics.maximumEntries * BalloonStatistics.entrySize))
        let previous = ledger.withLock { status -> UInt16? in
            defer { status.heldStatisticsBuffer = chain.head }
            status.statistics = report
            status.statisticsTime = MonotonicClock.now
            return status.heldStatisticsBuffer
        }
        // A driver that queues a second buffer gets the first one back.
        if let previous { queue.addUsed(head: previous, written: 0) }
    }

    /// Returns the statistics buffer, which the driver refills with a fresh report.
    private func requestStatistics() {
        guard let queue = queues.first(where: { $0.role == .statistics }), !queue.queue.isBroken,
              let head = ledger.withLock({ $0.heldStatisticsBuffer.take() })
        else { return }
        queue.queue.addUsed(head: head, written: 0)
        if queue.queue.needsInterrupt() { activation.interrupt.signalUsedBuffers(queue: queue.index) }
    }

    /// The chain's 32-bit little-endian page numbers, at most `maximumPagesPerRequest`.
    static func pageNumbers(in chain: DescriptorChain) -> [UInt32] {
        let bytes = chain.read(count: maximumPagesPerRequest * 4)
        return bytes.withUnsafeBytes { raw in
            (0..<raw.count / 4).map { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) }
        }
    }

    static func address(of pageNumber: UInt32) -> UInt64 { UInt64(pageNumber) << 12 }
}
