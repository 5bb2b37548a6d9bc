#if canImport(Glibc)
import Glibc
#endif
import Seccomp
import Synchronization

/// Auto-converge: holds the vCPUs out of the guest for `percent` of every 10 ms, so a
/// guest that dirties memory faster than the stream carries it slows down until the
/// migration catches up. Runs on a thread of its own until `stop()`.
final class VCPUThrottle: Sendable {
    static let period = 0.010

    private let machine: Machine
    private let percent = Atomic<Int>(0)
    private let running = Atomic<Bool>(false)
    private let finished = Mutex<EventNotifier?>(nil)

    init(machine: Machine) { self.machine = machine }

    var currentPercent: Int { percent.load(ordering: .relaxed) }

    /// Sets the share of time the vCPUs are held; starts the thread on first use.
    func set(percent value: Int) throws(VMMError) {
        percent.store(min(max(value, 0), 99), ordering: .relaxed)
        guard !running.load(ordering: .acquiring) else { return }
        let done = try EventNotifier()
        finished.withLock { $0 = done }
        running.store(true, ordering: .releasing)
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { context in
            let throttle = Unmanaged<VCPUThrottle>.fromOpaque(context!).takeRetainedValue()
            throttle.loop()
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<VCPUThrottle>.fromOpaque(context).release()
            running.store(false, ordering: .releasing)
            throw .system("pthread_create for the vCPU throttle", result)
        }
        pthread_detach(thread)
    }

    /// Ends the throttling; returns once the vCPUs are no longer held by it.
    func stop() {
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        finished.withLock { $0 }?.wait()
    }

    private func loop() {
        ThreadConfinement.enterOrExit(.throttle, name: "vcpu throttle")
        while running.load(ordering: .acquiring) {
            let held = Self.period * Double(percent.load(ordering: .relaxed)) / 100
            machine.pause()
            Self.sleep(held)
            machine.resume()
            Self.sleep(Self.period - held)
        }
        finished.withLock { $0 }?.signal()
    }

    static func sleep(_ seconds: Double) {
        guard seconds > 0 else { return }
        var time = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
        nanosleep(&time, nil)
    }
}
