import Synchronization

/// Logs each unclaimed port or MMIO address once, so a guest probing hardware that is
/// not there cannot flood the log. After `limit` distinct addresses it goes quiet.
public final class UnhandledAccessLog: Sendable {
    private let seen = Mutex<Set<UInt64>>([])
    private let limit: Int
    private let log: Logger

    public init(log: Logger, limit: Int = 64) {
        self.log = log
        self.limit = limit
    }

    func note(kind: String, address: UInt64) {
        let key = address ^ (kind.hasPrefix("port") ? 1 << 63 : 0)
        let isNew = seen.withLock { seen -> Bool in
            guard seen.count < limit, !seen.contains(key) else { return false }
            seen.insert(key)
            return true
        }
        if isNew {
            log.debug("unhandled \(kind) at 0x\(String(address, radix: 16)) (reads give all-ones, writes are ignored)")
        }
    }
}
