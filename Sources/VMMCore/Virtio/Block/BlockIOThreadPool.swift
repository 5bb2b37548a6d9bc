#if canImport(Glibc)
import Glibc
#endif
import CKVM
import Seccomp
import Synchronization

/// A few threads that run blocking disk calls, so that one slow request does not hold up
/// the others and the queue's worker thread never blocks on the disk.
///
/// Jobs start in the order they were submitted. Idle threads sleep on an eventfd in
/// semaphore mode (one read takes one job), which costs no CPU. The owner must call
/// `shutdown`.
final class BlockIOThreadPool: Sendable {
    private let jobs = Mutex<[(@Sendable () -> Void)?]>([])
    private let pending: Int32
    private let threads = Mutex<[pthread_t]>([])
    private let name: String

    init(name: String, threads count: Int) throws(VMMError) {
        self.name = name
        pending = eventfd(0, Int32(EFD_CLOEXEC) | Int32(EFD_SEMAPHORE))
        guard pending >= 0 else { throw .system("eventfd for \(name)", errno) }
        for _ in 0..<count {
            let context = Unmanaged.passRetained(self).toOpaque()
            var thread = pthread_t()
            let result = pthread_create(&thread, nil, { context in
                Unmanaged<BlockIOThreadPool>.fromOpaque(context!).takeRetainedValue().run()
                return nil
            }, context)
            guard result == 0 else {
                Unmanaged<BlockIOThreadPool>.fromOpaque(context).release()
                shutdown()
                throw .system("pthread_create for \(name)", result)
            }
            threads.withLock { $0.append(thread) }
        }
    }

    // The threads hold the pool until `shutdown` ends them.
    deinit { close(pending) }

    func submit(_ job: @escaping @Sendable () -> Void) {
        jobs.withLock { $0.append(job) }
        post()
    }

    /// Lets every job submitted so far finish, then ends the threads and waits for them.
    /// Must not be called from a job.
    func shutdown() {
        let threads = self.threads.withLock { threads in
            defer { threads = [] }
            return threads
        }
        guard !threads.isEmpty else { return }
        // A nil job ends the thread that takes it; it sits behind every real one.
        jobs.withLock { $0 += [(@Sendable () -> Void)?](repeating: nil, count: threads.count) }
        for _ in threads { post() }
        for thread in threads { pthread_join(thread, nil) }
    }

    private func post() {
        var one: UInt64 = 1
        while Glibc.write(pending, &one, 8) < 0 && errno == EINTR {}
    }

    private func run() {
        ThreadConfinement.enterOrExit(.blockIO, name: name)
        while true {
            var value: UInt64 = 0
            guard read(pending, &value, 8) == 8 else { continue }
            guard let job = jobs.withLock({ $0.removeFirst() }) else { return }
            job()
        }
    }
}
