#if canImport(Glibc)
import Glibc
#endif
import VMMCore

/// The process a supervisor started for a jailed vmm, left outside the VM's PID namespace
/// (`Jail`): it holds nothing (every descriptor closed, no capability, the jail's user),
/// passes termination signals on to the VM process and ends as that process ended, so
/// whoever watches its pid sees the VM's exit status or signal (SIGSYS for a seccomp kill).
/// SIGKILL cannot be passed on: the VM process has SIGKILL as its parent-death signal.
struct JailKeeper {
    /// What the VM process hears about: vmm's termination signals.
    static let forwarded = [SIGTERM, SIGINT, SIGHUP, SIGQUIT]

    let child: pid_t
    let jail: Jail

    /// Blocks the signals the keeper waits for (before the fork, so none is missed); the VM
    /// process restores `saved`.
    static func blockSignals(saving saved: inout sigset_t) {
        var set = waitedSignals()
        pthread_sigmask(SIG_BLOCK, &set, &saved)
    }

    private static func waitedSignals() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for number in forwarded + [SIGCHLD] { sigaddset(&set, number) }
        return set
    }

    func run() -> Never {
        JailSystem.closeDescriptors(from: 3)
        do {
            try jail.limitResources()
            try JailSystem.dropPrivileges(user: jail.user, group: jail.group)
        } catch {
            // The VM process cannot be left with a privileged keeper.
            Logger().error("jail keeper: \(error); stopping the VM")
            kill(child, SIGKILL)
        }
        var set = Self.waitedSignals()
        while true {
            if let status = reap() { mirror(status) }
            var received: Int32 = 0
            guard sigwait(&set, &received) == 0 else { continue }
            if received != SIGCHLD { kill(child, received) }
        }
    }

    /// The VM process's wait status once it has ended.
    private func reap() -> Int32? {
        var status: Int32 = 0
        while true {
            let result = waitpid(child, &status, WNOHANG)
            if result == child { return status }
            if result < 0 && errno == EINTR { continue }
            if result < 0 { return ExitStatus.hostFailure << 8 }
            return nil
        }
    }

    /// Ends the keeper as the VM process ended. WIFEXITED and friends are macros Swift
    /// does not import.
    private func mirror(_ status: Int32) -> Never {
        let signal = status & 0x7f
        guard signal != 0 else { exit((status >> 8) & 0xff) }
        Glibc.signal(signal, SIG_DFL)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, signal)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        kill(getpid(), signal)
        _exit(128 + signal)
    }
}
