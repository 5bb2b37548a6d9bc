#if canImport(Glibc)
import Glibc
#endif
import CKVM

/// A one-shot timer a device worker can poll: a non-blocking timerfd on CLOCK_MONOTONIC
/// that becomes readable once the time it was armed for has passed.
public final class DeadlineTimer: Sendable {
    public let fileDescriptor: Int32

    public init() throws(VMMError) {
        let fd = timerfd_create(CLOCK_MONOTONIC, Int32(TFD_CLOEXEC) | Int32(TFD_NONBLOCK))
        guard fd >= 0 else { throw .system("timerfd_create", errno) }
        fileDescriptor = fd
    }

    deinit { close(fileDescriptor) }

    /// Fires in `nanoseconds` (at least 1), replacing any earlier setting.
    public func arm(nanoseconds: UInt64) {
        let delay = max(nanoseconds, 1)
        let value = timespec(tv_sec: Int(delay / 1_000_000_000), tv_nsec: Int(delay % 1_000_000_000))
        var setting = itimerspec(it_interval: timespec(), it_value: value)
        // Only EINVAL could come back, and these values are valid.
        timerfd_settime(fileDescriptor, 0, &setting, nil)
    }

    /// Consumes an expiry (call when poll says it is readable); never blocks.
    public func acknowledge() {
        var expirations: UInt64 = 0
        while read(fileDescriptor, &expirations, 8) < 0 && errno == EINTR {}
    }
}
