#if canImport(Glibc)
import Glibc
#endif
import VMMCore

/// Turns SIGTERM (and SIGINT, SIGHUP) into a graceful shutdown: the first presses the
/// guest's ACPI power button; if the guest has not powered off `timeout` seconds later,
/// or another signal comes, the machine is stopped.
struct SignalWatcher: Sendable {
    static let signals = [SIGTERM, SIGINT, SIGHUP]

    let timeout: Double
    let log: Logger
    let pressPowerButton: @Sendable () -> Void
    let forceStop: @Sendable () -> Void

    /// Blocks the termination signals in the calling thread (and threads it starts later),
    /// and ignores SIGPIPE so a closed console cannot kill the VM.
    static func blockTerminationSignals() {
        var set = signalSet()
        pthread_sigmask(SIG_BLOCK, &set, nil)
        signal(SIGPIPE, SIG_IGN)
    }

    private static func signalSet() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for number in signals { sigaddset(&set, number) }
        return set
    }

    func start() throws(VMMError) {
        try HostThread.detach(.signals, name: "signals") { [self] in watch() }
    }

    private func watch() {
        var set = Self.signalSet()
        var received: Int32 = 0
        while sigwait(&set, &received) != 0 {}
        log.info("received signal \(received): pressing the power button, stopping in \(timeout) s otherwise")
        pressPowerButton()
        var wait = timespec(tv_sec: Int(timeout), tv_nsec: Int((timeout - timeout.rounded(.down)) * 1e9))
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        deadline.tv_sec += wait.tv_sec
        deadline.tv_nsec += wait.tv_nsec
        while true {
            let result = sigtimedwait(&set, nil, &wait)
            if result > 0 {
                log.info("received signal \(result) again: stopping the VM")
                break
            }
            if errno != EINTR { break }
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            let left = Double(deadline.tv_sec - now.tv_sec) + Double(deadline.tv_nsec - now.tv_nsec) / 1e9
            if left <= 0 { break }
            wait = timespec(tv_sec: Int(left), tv_nsec: Int((left - left.rounded(.down)) * 1e9))
        }
        forceStop()
    }
}
