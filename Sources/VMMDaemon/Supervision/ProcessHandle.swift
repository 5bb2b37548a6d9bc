import Glibc
import VMMAPI

/// One `vmm` process, held through a pidfd so signals and exit notices can never reach a
/// later process that reuses its pid.
final class ProcessHandle: Sendable {
    /// How a process ended, as far as the daemon could tell.
    enum Ending: Sendable, CustomStringConvertible {
        case exited(Int32)
        case signaled(Int32)
        /// Not our child (adopted after a daemon restart): its status cannot be collected.
        case unknown

        var description: String {
            switch self {
            case .exited(let status): return "exit status \(status)"
            case .signaled(let signal): return "killed by signal \(signal)"
            case .unknown: return "ended"
            }
        }
    }

    let pid: pid_t
    let pidfd: Int32
    /// Whether this daemon spawned it, so it must reap it with `waitpid`.
    let isChild: Bool

    init(pid: pid_t, pidfd: Int32, isChild: Bool) {
        self.pid = pid
        self.pidfd = pidfd
        self.isChild = isChild
    }

    deinit { close(pidfd) }

    var hasExited: Bool { Linux.hasExited(pidfd: pidfd) }

    func signal(_ signal: Int32) {
        Linux.pidfdSendSignal(pidfd, signal)
    }

    /// Calls `onExit` on `monitor`'s thread once the process has ended (reaping it first
    /// when it is our child).
    func watch(with monitor: DescriptorMonitor, _ onExit: @escaping @Sendable (Ending) -> Void) throws(APIError) {
        try monitor.watch(pidfd) {
            onExit(self.reap())
            return false
        }
    }

    /// SIGKILL, then reap: for a child the daemon cannot watch.
    func killAndReap() {
        signal(SIGKILL)
        _ = Linux.hasExited(pidfd: pidfd, waitingMilliseconds: -1)
        _ = reap()
    }

    private func reap() -> Ending {
        guard isChild else { return .unknown }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return .unknown }
        }
        // WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift does not import.
        let signal = status & 0x7f
        return signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
    }
}
