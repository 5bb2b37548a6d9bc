#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// `/proc/self/pagemap`, which tells a restored VM's privately written pages from its
/// snapshot file's. A jailed `vmm` has no /proc: it opens the file before entering the jail.
public enum Pagemap {
    private static let preopened = Atomic<Int32>(-1)

    /// Opens the file now and keeps it for the life of the process (call it in the process
    /// whose memory it describes: after a fork, in the child).
    public static func openAhead() throws(VMMError) {
        let fd = Glibc.open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .system("open /proc/self/pagemap", errno) }
        preopened.store(fd, ordering: .releasing)
    }

    /// Runs `body` with a descriptor of the file (for pread only: it may be shared).
    static func withDescriptor<T>(_ body: (Int32) throws(VMMError) -> T) throws(VMMError) -> T {
        let kept = preopened.load(ordering: .acquiring)
        if kept >= 0 { return try body(kept) }
        let fd = Glibc.open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .system("open /proc/self/pagemap", errno) }
        defer { close(fd) }
        return try body(fd)
    }
}
