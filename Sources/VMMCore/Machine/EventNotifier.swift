#if canImport(Glibc)
import Glibc
#endif
import CKVM

/// A counter threads can block on: an eventfd, so waiting costs no CPU and later an
/// event loop can poll it.
public final class EventNotifier: Sendable {
    public let fileDescriptor: Int32

    public init() throws(VMMError) {
        let fd = eventfd(0, Int32(EFD_CLOEXEC))
        guard fd >= 0 else { throw .system("eventfd", errno) }
        fileDescriptor = fd
    }

    deinit { close(fileDescriptor) }

    public func signal() {
        var one: UInt64 = 1
        while write(fileDescriptor, &one, 8) < 0 && errno == EINTR {}
    }

    /// Blocks until signalled, then resets the counter.
    public func wait() {
        var value: UInt64 = 0
        while read(fileDescriptor, &value, 8) < 0 && errno == EINTR {}
    }
}
