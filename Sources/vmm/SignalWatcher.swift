#if canImport(Glibc)
import Glibc
#endif
import VMMCore

/// Turns SIGTERM (and SIGINT, SIGHUP) into a graceful shutdown: the first presses the
/// guest's ACPI power button; if the guest has not powered off `timeout` seconds later,
/// or another signal comes, the machine is stopped. It also receives the fence timer's
/// signal (`FenceTimer`), whatever it is doing.
struct SignalWatcher: Sendable {
    static let signals = [SIGTERM, SIGINT, SIGHUP]

    let timeout: Double
    let log: Logger
    let pressPowerButton: @Sendable () -> Void
    let forceStop: @Sendable () -> Void
    /// Stops the VM if the fence deadline has passed; true if it had.
    let fenceSignalled: @Sendable () -> Bool

    /// Blocks the termination signals and the fence's in the calling thread (and threads it
    /// starts later), and ignores SIGPIPE so a closed console cannot kill the VM.
    static func blockTerminationSignals() {
        var set = signalSet()
        pthread_sigmask(SIG_BLOCK, &set, nil)
        signal(SIGPIPE, SIG_IGN)
    }

    private static func signalSet() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for number in signals + [FenceTimer.signal] { sigaddset(&set, number) }
        return set
    }

    func start() throws(VMMError) {
        try HostThread.detach(.signals, name: "signals") { [self] in watch() }
    }

    private func watch() {
        var set = Self.signalSet()
        var received: Int32 = 0
        repeat {
            while sigwait(&set, &received) != 0 {}
            // A fence signal whose deadline was moved later meanwhile is stale: wait on.
            if received == FenceTimer.signal, fenceSignalled() { return }
        } while received == FenceTimer.signal
        log.info("received signal \(received): pressing the power button, stopping in \(timeout) s otherwise")
        pressPowerButton()
        let deadline = MonotonicClock.now + timeout
        while true {
            let left = deadline - MonotonicClock.now
            if left <= 0 { break }
            var wait = timespec(tv_sec: Int(left), tv_nsec: Int((left - left.rounded(.down)) * 1e9))
            let result = sigtimedwait(&set, nil, &wait)
            if result == FenceTimer.signal {
                if fenceSignalled() { return }
                continue
            }
            if result > 0 {
                log.info("received signal \(result) again: stopping the VM")
                break
            }
            if errno != EINTR { break }
        }
        forceStop()
    }
}
