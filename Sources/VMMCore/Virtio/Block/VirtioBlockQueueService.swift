import Synchronization

/// Serves a virtio-blk request queue between one `activate` and the next `reset`.
///
/// A `DeviceWorker` thread takes chains off the ring when the driver notifies, checks
/// them and hands them to the I/O threads, so requests run in parallel. The queue itself
/// is not thread-safe: every ring access (the worker's `nextChain`, the I/O threads'
/// `addUsed` and `needsInterrupt`) happens under one lock, held only for those calls.
/// A request is returned to the driver only after its storage call has returned.
final class VirtioBlockQueueService: Sendable {
    private let ring: Mutex<Virtqueue>
    private let notifier: EventNotifier
    private let interrupt: any VirtioInterrupt
    private let deviceNeedsReset: @Sendable (String) -> Void
    private let storage: any BlockStorage
    private let serial: [UInt8]
    private let configuration: VirtioBlockConfiguration
    private let log: Logger
    private let pool: BlockIOThreadPool
    private let worker = Mutex<DeviceWorker?>(nil)
    private let rateLimiter: RateLimiter
    /// Armed while the rate limiter makes the queue wait; the worker then polls only it.
    private let throttleTimer: DeadlineTimer
    private let throttled = Atomic<Bool>(false)
    // The guest chooses how often requests fail: only the first of each kind is a warning.
    private let warnedAboutRequest = Atomic<Bool>(false)
    private let warnedAboutStorage = Atomic<Bool>(false)

    /// Starts the I/O threads and the worker; the worker looks at the ring once right
    /// away, for requests the driver queued before DRIVER_OK.
    init(
        queue: Virtqueue, notifier: EventNotifier, interrupt: any VirtioInterrupt,
        deviceNeedsReset: @escaping @Sendable (String) -> Void, storage: any BlockStorage, serial: [UInt8],
        configuration: VirtioBlockConfiguration, ioThreads: Int, rateLimiter: RateLimiter, log: Logger
    ) throws(VMMError) {
        ring = Mutex(queue)
        self.notifier = notifier
        self.interrupt = interrupt
        self.deviceNeedsReset = deviceNeedsReset
        self.storage = storage
        self.serial = serial
        self.configuration = configuration
        self.log = log
        self.rateLimiter = rateLimiter
        throttleTimer = try DeadlineTimer()
        pool = try BlockIOThreadPool(name: "virtio-blk io", threads: ioThreads)
        do throws(VMMError) {
            let worker = try DeviceWorker(name: "virtio-blk", sources: { [self] in sources() }, handler: { [self] in handle($0) })
            self.worker.withLock { $0 = worker }
        } catch {
            pool.shutdown()
            throw error
        }
        rateLimiter.attach(throttleTimer)
        notifier.signal()
    }

    /// The notifier and the throttle timer; only the timer while the queue waits for tokens.
    private func sources() -> [Int32] {
        throttled.load(ordering: .relaxed)
            ? [throttleTimer.fileDescriptor] : [notifier.fileDescriptor, throttleTimer.fileDescriptor]
    }

    private func handle(_ ready: [Int]) {
        let waiting = throttled.load(ordering: .relaxed)
        for index in ready {
            if index == 0 && !waiting { notifier.wait() } else { throttleTimer.acknowledge() }
        }
        serve()
    }

    /// Stops taking requests, waits until every request in flight has completed, and
    /// ends the threads. Afterwards nothing touches the queue or guest memory.
    func stop() {
        worker.withLock { worker in
            defer { worker = nil }
            return worker
        }?.stop()
        pool.shutdown()
        rateLimiter.attach(nil)
    }

    /// Hands every request but the last of a batch to the I/O threads and runs the last
    /// one itself: a guest that submits one request at a time then costs no thread
    /// hand-off, while a batch still runs in parallel. Stops taking requests while the
    /// rate limiter says wait, and arms the timer for then.
    private func serve() {
        var last: VirtioBlockRequest?
        var waiting = false
        while true {
            if let wait = rateLimiter.delay() {
                throttleTimer.arm(nanoseconds: wait)
                waiting = true
                break
            }
            guard let request = nextRequest() else { break }
            rateLimiter.consume(bytes: request.dataBytes)
            if case .reject(let status, let reason) = request.operation {
                warn(warnedAboutRequest, "virtio-blk: rejected a request (\(status)): \(reason)")
                complete(head: request.head, written: request.finish(status, dataWritten: 0))
                continue
            }
            if let earlier = last { pool.submit { [self] in execute(earlier) } }
            last = request
        }
        throttled.store(waiting, ordering: .relaxed)
        if let last { execute(last) }
    }

    private func nextRequest() -> VirtioBlockRequest? {
        let next = ring.withLock { queue -> Result<DescriptorChain?, VirtqueueError> in
            do throws(VirtqueueError) {
                return .success(try queue.nextChain())
            } catch {
                return .failure(error)
            }
        }
        switch next {
        case .success(let chain):
            return chain.map { VirtioBlockRequest(chain: $0, configuration: configuration, readOnly: storage.isReadOnly) }
        case .failure(let error):
            deviceNeedsReset("virtio-blk request queue: \(error)")
            return nil
        }
    }

    private func execute(_ request: VirtioBlockRequest) {
        let written: UInt32
        do {
            written = request.finish(.ok, dataWritten: try request.execute(on: storage, serial: serial))
        } catch {
            warn(warnedAboutStorage, "virtio-blk: \(error); the guest sees an I/O error")
            written = request.finish(.ioError, dataWritten: 0)
        }
        complete(head: request.head, written: written)
    }

    private func complete(head: UInt16, written: UInt32) {
        let notify = ring.withLock { queue -> Bool in
            queue.addUsed(head: head, written: written)
            return queue.needsInterrupt()
        }
        if notify { interrupt.signalUsedBuffers(queue: 0) }
    }

    private func warn(_ warned: borrowing Atomic<Bool>, _ message: @autoclosure () -> String) {
        if warned.exchange(true, ordering: .relaxed) {
            log.debug(message())
        } else {
            log.warning(message() + " (further ones are logged at debug level)")
        }
    }
}
