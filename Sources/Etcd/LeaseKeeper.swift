import Synchronization

/// Holds one etcd lease: grants it, then renews it every `interval` until stopped, and
/// says when it last succeeded (the clock a host fences by, docs/cluster.md section 4).
///
/// The time recorded for a renewal is when its request was **sent**: etcd starts the new
/// TTL when its leader processes the request, later than that, so a deadline counted from
/// the send time is never late. A renewal answered with no TTL means etcd no longer has
/// the lease (it expired or was revoked): the keeper stops and ``waitUntilLost()`` returns.
/// It renews until then or until ``stop()`` or ``revoke()``: dropping it does not stop it.
public final class LeaseKeeper: Sendable {
    /// The lease's ID, for keys bound to it.
    public let id: Int64
    /// The TTL etcd granted, in seconds.
    public let ttl: Int64
    /// How often it is renewed.
    public let interval: Duration
    private let client: EtcdClient
    private let state: Mutex<State>

    private struct State {
        var lastRenewal: ContinuousClock.Instant
        var isLost = false
        var isStopped = false
        var renewals: Task<Void, Never>?
        var waiters: [CheckedContinuation<Void, Never>] = []

        /// Ends the keeper's life; returns who waited for that.
        mutating func end() -> [CheckedContinuation<Void, Never>] {
            isStopped = true
            renewals?.cancel()
            defer { waiters = [] }
            return waiters
        }
    }

    /// Grants a lease of `ttl` seconds and starts renewing it every `interval`.
    public static func grant(_ client: EtcdClient, ttl: Int64, interval: Duration = .seconds(1)) async throws -> LeaseKeeper {
        let sent = ContinuousClock.now
        let lease = try await client.grantLease(ttl: ttl)
        let keeper = LeaseKeeper(client: client, id: lease.id, ttl: lease.ttl, interval: interval, granted: sent)
        keeper.start()
        return keeper
    }

    /// Takes over a lease granted earlier (by this host's previous daemon): renews it once
    /// now and goes on renewing it every `interval`. Returns nil when etcd no longer has it.
    public static func resume(_ client: EtcdClient, id: Int64, interval: Duration = .seconds(1)) async throws -> LeaseKeeper? {
        let sent = ContinuousClock.now
        let ttl = try await client.keepAlive(lease: id, timeout: interval)
        guard ttl > 0 else { return nil }
        let keeper = LeaseKeeper(client: client, id: id, ttl: ttl, interval: interval, granted: sent)
        keeper.start()
        return keeper
    }

    private init(client: EtcdClient, id: Int64, ttl: Int64, interval: Duration, granted: ContinuousClock.Instant) {
        self.client = client
        self.id = id
        self.ttl = ttl
        self.interval = interval
        state = Mutex(State(lastRenewal: granted))
    }

    private func start() {
        let task = Task {
            while !Task.isCancelled {
                let sent = ContinuousClock.now
                do {
                    // One interval per member: a renewal that waits longer is no use.
                    let remaining = try await client.keepAlive(lease: id, timeout: interval)
                    guard remaining > 0 else {
                        markLost()
                        return
                    }
                    state.withLock { $0.lastRenewal = max($0.lastRenewal, sent) }
                } catch {
                    // No member renewed it this time; the fence deadline keeps counting.
                }
                try? await Task.sleep(until: sent + interval, clock: .continuous)
            }
        }
        state.withLock { $0.renewals = task }
    }

    private func markLost() {
        state.withLock { $0.isLost = true; return $0.end() }.forEach { $0.resume() }
    }

    /// The send time of the last renewal etcd confirmed (the grant's, or the resuming
    /// renewal's, at first).
    public var lastRenewal: ContinuousClock.Instant { state.withLock { $0.lastRenewal } }

    /// Whether etcd said the lease is gone.
    public var isLost: Bool { state.withLock { $0.isLost } }

    /// Returns once etcd has said the lease is gone, or the keeper was stopped.
    public func waitUntilLost() async {
        await withCheckedContinuation { continuation in
            let ended = state.withLock {
                if $0.isStopped { return true }
                $0.waiters.append(continuation)
                return false
            }
            if ended { continuation.resume() }
        }
    }

    /// Stops renewing without revoking: the lease expires after its TTL (what a host's death
    /// looks like to etcd).
    public func stop() {
        state.withLock { $0.end() }.forEach { $0.resume() }
    }

    /// Stops renewing and ends the lease at once: its keys are deleted now.
    public func revoke() async throws {
        stop()
        try await client.revoke(lease: id)
        state.withLock { $0.isLost = true }
    }
}
