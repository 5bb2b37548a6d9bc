#if canImport(Glibc)
import Glibc
#endif
import Seccomp
import Synchronization

/// A device's own thread: it sleeps in poll(2) on the file descriptors the device names
/// (queue notifiers, a tap, completion eventfds) and hands the ready ones to the device.
///
/// Keeping device work here, rather than on vCPU threads or in Swift concurrency, means
/// a guest notification costs the vCPU one ioeventfd write and blocking I/O never stalls
/// a vCPU or the cooperative pool.
public final class DeviceWorker: Sendable {
    private let stopRequest: EventNotifier
    private let thread: Mutex<pthread_t?>

    /// Starts the thread. Each round it calls `sources` for the descriptors to wait on
    /// (a device can leave one out, e.g. a tap while the guest has posted no receive
    /// buffers), polls them for input, and calls `handler` with the indices that are ready.
    /// Both closures run only on the worker thread.
    public init(
        name: String, sources: @escaping @Sendable () -> [Int32], handler: @escaping @Sendable (_ ready: [Int]) -> Void
    ) throws(VMMError) {
        let stopRequest = try EventNotifier()
        self.stopRequest = stopRequest
        let loop = Loop(name: name, stop: stopRequest.fileDescriptor, sources: sources, handler: handler)
        let context = Unmanaged.passRetained(loop).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { context in
            Unmanaged<Loop>.fromOpaque(context!).takeRetainedValue().run()
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<Loop>.fromOpaque(context).release()
            throw .system("pthread_create for device worker \(name)", result)
        }
        self.thread = Mutex(thread)
    }

    deinit { stop() }

    /// Ends the thread and waits for it. After this returns the handler never runs again.
    /// Must not be called from the handler itself.
    public func stop() {
        guard let thread = thread.withLock({ (thread: inout pthread_t?) -> pthread_t? in
            defer { thread = nil }
            return thread
        }) else { return }
        stopRequest.signal()
        pthread_join(thread, nil)
    }

    private final class Loop: Sendable {
        let name: String
        let stop: Int32
        let sources: @Sendable () -> [Int32]
        let handler: @Sendable ([Int]) -> Void

        init(name: String, stop: Int32, sources: @escaping @Sendable () -> [Int32], handler: @escaping @Sendable ([Int]) -> Void) {
            self.name = name
            self.stop = stop
            self.sources = sources
            self.handler = handler
        }

        func run() {
            ThreadConfinement.enterOrExit(.deviceWorker, name: name)
            while true {
                let watched = sources()
                var descriptors = watched.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
                descriptors.append(pollfd(fd: stop, events: Int16(POLLIN), revents: 0))
                let count = poll(&descriptors, nfds_t(descriptors.count), -1)
                if count < 0 {
                    switch errno {
                    case EINTR: continue
                    case ENOMEM, EAGAIN:
                        // The kernel could not allocate poll's tables this time: the
                        // device waits a moment rather than ending the VM.
                        usleep(10_000)
                        continue
                    default:
                        // EFAULT or EINVAL: the descriptor array is ours, so a bug here.
                        preconditionFailure("poll in device worker \(name): errno \(errno)")
                    }
                }
                if descriptors[watched.count].revents != 0 { return }
                let ready = watched.indices.filter { descriptors[$0].revents != 0 }
                if !ready.isEmpty { handler(ready) }
            }
        }
    }
}
