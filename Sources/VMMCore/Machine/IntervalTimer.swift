#if canImport(Glibc)
import Glibc
#endif
import CKVM

/// A periodic timer a device worker can poll: a timerfd on CLOCK_MONOTONIC that
/// becomes readable every `seconds`.
public final class IntervalTimer: Sendable {
    public let fileDescriptor: Int32

    public init(seconds: UInt32) throws(VMMError) {
        let fd = timerfd_create(CLOCK_MONOTONIC, Int32(TFD_CLOEXEC))
        guard fd >= 0 else { throw .system("timerfd_create", errno) }
        let period = timespec(tv_sec: Int(seconds), tv_nsec: 0)
        var setting = itimerspec(it_interval: period, it_value: period)
        guard timerfd_settime(fd, 0, &setting, nil) == 0 else {
            let code = errno
            close(fd)
            throw .system("timerfd_settime", code)
        }
        fileDescriptor = fd
    }

    deinit { close(fileDescriptor) }

    /// Consumes the expirations so far (call when poll says it is readable).
    public func acknowledge() {
        var expirations: UInt64 = 0
        while read(fileDescriptor, &expirations, 8) < 0 && errno == EINTR {}
    }
}
