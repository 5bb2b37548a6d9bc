#if canImport(Glibc)
import Glibc
#endif
import CKVM
import Synchronization
import VMMCore

/// The fence deadline (docs/cluster.md section 4): a time on CLOCK_BOOTTIME after which vmm
/// stops its VM by itself unless a supervisor moved it later first. It must hold when vmmd
/// is dead or hung, so it is a POSIX timer of this process: at the deadline the kernel sends
/// `signal` (blocked in every thread) and the signals thread, idle in `sigwait`, stops the
/// VM. No thread waits for it, and a busy control thread (a long snapshot) cannot delay it.
final class FenceTimer: Sendable {
    static let signal = SIGALRM

    private struct State {
        /// The kernel's ID of the timer.
        var timer: Int32?
        /// CLOCK_BOOTTIME nanoseconds; nil while no fence is set.
        var deadline: Int64?
    }

    private let state = Mutex(State())

    /// Now on CLOCK_BOOTTIME, in nanoseconds.
    static var now: Int64 {
        var time = timespec()
        clock_gettime(CLOCK_BOOTTIME, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }

    /// Creates the timer (unarmed). Called by the main thread before its seccomp filter,
    /// which does not allow `timer_create`.
    func create() throws(VMMError) {
        var id: Int32 = 0
        guard ckvm_boottime_timer_create(Self.signal, &id) == 0 else { throw .system("timer_create for the fence", errno) }
        state.withLock { $0.timer = id }
    }

    /// Sets the deadline (nil: none). Returns false, changing nothing, when the deadline in
    /// force has passed: the VM is fenced and nothing can take that back.
    func set(_ deadline: Int64?) throws(VMMError) -> Bool {
        try state.withLock { s throws(VMMError) -> Bool in
            if let current = s.deadline, current <= Self.now { return false }
            guard let timer = s.timer else { throw .system("the fence timer was not created", EINVAL) }
            // 0 disarms the timer: a deadline of 0 (long past) must fire instead.
            guard ckvm_timer_set_absolute(timer, deadline.map { max($0, 1) } ?? 0) == 0 else {
                throw .system("timer_settime", errno)
            }
            s.deadline = deadline
            return true
        }
    }

    /// The deadline in force, if any.
    var deadline: Int64? { state.withLock { $0.deadline } }

    /// Whether a deadline is set and has passed (the signal may be stale: a deadline
    /// moved later after the kernel queued it).
    var hasPassed: Bool {
        guard let deadline else { return false }
        return deadline <= Self.now
    }
}
