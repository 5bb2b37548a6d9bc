import Synchronization

/// Logs each unclaimed port or MMIO address once, so a guest probing hardware that is
/// not there cannot flood the log. After `limit` distinct addresses it goes quiet.
public final class UnhandledAccessLog: Sendable {
    private let seen = Mutex<Set<UInt64>>([])
    /// The last address noted: a guest hammering one unclaimed address (a probe loop, a
    /// benchmark) skips the lock and the set.
    private let lastKey = Atomic<UInt64>(.max)
    private let limit: Int
    private let log: Logger

    public init(log: Logger, limit: Int = 64) {
        self.log = log
        self.limit = limit
    }

    enum Access: UInt64 {
        case portRead, portWrite, mmioRead, mmioWrite

        var description: String {
            switch self {
            case .portRead: return "port read"
            case .portWrite: return "port write"
            case .mmioRead: return "MMIO read"
            case .mmioWrite: return "MMIO write"
            }
        }
    }

    /// The check for a repeated address is inline (the exit path of a guest hammering one
    /// address); the rest is not, so it does not weigh on the callers' code.
    @inline(__always)
    func note(_ access: Access, address: UInt64) {
        // Guest-physical addresses stay below 2^52, so the top bits can carry the kind.
        let key = address ^ (access.rawValue << 60)
        // A plain load and store, not an exchange (a locked instruction): two vCPUs racing
        // here at worst both go on to the set, which decides alone what is logged.
        guard lastKey.load(ordering: .relaxed) != key else { return }
        noteNew(access, address: address, key: key)
    }

    @inline(never)
    private func noteNew(_ access: Access, address: UInt64, key: UInt64) {
        lastKey.store(key, ordering: .relaxed)
        let isNew = seen.withLock { seen -> Bool in
            guard seen.count < limit, !seen.contains(key) else { return false }
            seen.insert(key)
            return true
        }
        if isNew {
            log.debug("unhandled \(access.description) at 0x\(String(address, radix: 16)) (reads give all-ones, writes are ignored)")
        }
    }
}
