import CLinux
import Glibc
import Synchronization
import VMMAPI

/// One thread that waits, with epoll, on the descriptors the daemon watches for all its
/// VMs (each `vmm`'s pidfd and console socket), so a VM costs the daemon no thread of its
/// own: at thousands of VMs, two threads each used up the host's PIDs.
final class DescriptorMonitor: Sendable {
    /// Called on the monitor's thread when the descriptor polls readable (or hung up);
    /// returns whether to keep watching. It must not block: every VM waits behind it.
    typealias Handler = @Sendable () -> Bool

    private struct Watch {
        let fd: Int32
        let handler: Handler
    }

    private let epoll: Int32
    private let watches = Mutex<[UInt64: Watch]>([:])
    private let nextToken = Atomic<UInt64>(1)
    private let threadStarted = Mutex(false)

    init() {
        // Fails only without memory or descriptors; `watch` then reports it.
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
    }

    deinit { if epoll >= 0 { close(epoll) } }

    /// Calls `handler` whenever `fd` is readable until it returns false. The caller keeps
    /// `fd` open until then (the handler usually owns it).
    func watch(_ fd: Int32, _ handler: @escaping Handler) throws(APIError) {
        guard epoll >= 0 else { throw APIError.internalError("epoll_create1 failed when the daemon started") }
        try startThreadOnce()
        let token = nextToken.add(1, ordering: .relaxed).oldValue
        watches.withLock { $0[token] = Watch(fd: fd, handler: handler) }
        var event = epoll_event()
        event.events = UInt32(EPOLLIN.rawValue)
        event.data.u64 = token
        guard epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) == 0 else {
            let code = errno
            watches.withLock { $0[token] = nil }
            throw code == ENOMEM || code == ENOSPC
                ? .hostOutOfThreads(for: "epoll_ctl", errno: code)
                : .internalError("epoll_ctl(ADD \(fd)): \(String(cString: strerror(code)))")
        }
    }

    private func startThreadOnce() throws(APIError) {
        try threadStarted.withLock { (started: inout Bool) throws(APIError) in
            guard !started else { return }
            try SystemThread.start("vmmd-monitor") { self.run() }
            started = true
        }
    }

    private func run() {
        var events = [epoll_event](repeating: epoll_event(), count: 64)
        while true {
            let count = epoll_wait(epoll, &events, Int32(events.count), -1)
            // EINTR is the only failure epoll_wait has with a valid descriptor and buffer.
            guard count > 0 else { continue }
            for event in events[0..<Int(count)] {
                let token = event.data.u64
                guard let watch = watches.withLock({ $0[token] }), !watch.handler() else { continue }
                epoll_ctl(epoll, EPOLL_CTL_DEL, watch.fd, nil)
                watches.withLock { $0[token] = nil }
            }
        }
    }
}
