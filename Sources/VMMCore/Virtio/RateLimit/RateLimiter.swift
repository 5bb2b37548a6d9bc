import DeviceOptions
import Synchronization

/// The token buckets of one disk or one NIC direction (bytes and operations per second,
/// as Firecracker's rate limiters), changeable while the device runs.
///
/// The device's worker asks `delay()` before it takes the next request or frame off its
/// queue; when the answer is a wait, it arms its `DeadlineTimer` for it and stops polling
/// that queue until the timer fires, so a throttled queue costs no CPU and other devices,
/// each on its own worker, never wait for it. An unlimited limiter costs one atomic load.
public final class RateLimiter: Sendable {
    private let limited: Atomic<Bool>
    private let state: Mutex<State>

    private struct State {
        var setting: RateLimitOption
        var bytes: TokenBucket?
        var operations: TokenBucket?
        /// When the queue started waiting, while it waits.
        var throttledSince: UInt64?
        var statistics = RateLimiterStatistics()
        /// The worker's timer while a worker serves the queue: a new setting fires it so the
        /// worker looks again at once.
        var wake: DeadlineTimer?

        mutating func endWait(now: UInt64) {
            guard let since = throttledSince else { return }
            statistics.throttledNanoseconds &+= now &- since
            throttledSince = nil
        }
    }

    public init(_ setting: RateLimitOption) {
        let now = MonotonicClock.nanoseconds
        limited = Atomic(!setting.isUnlimited)
        state = Mutex(State(
            setting: setting, bytes: setting.bytes.map { TokenBucket($0, now: now) },
            operations: setting.operations.map { TokenBucket($0, now: now) }))
    }

    /// The limits in force.
    public var setting: RateLimitOption { state.withLock { $0.setting } }

    /// How often and how long the queue waited so far (a wait in progress counts up to now).
    public var statistics: RateLimiterStatistics {
        let now = MonotonicClock.nanoseconds
        return state.withLock { state in
            var statistics = state.statistics
            if let since = state.throttledSince { statistics.throttledNanoseconds &+= now &- since }
            return statistics
        }
    }

    /// Replaces the limits (the buckets start full) and wakes the worker, so a queue that
    /// waited under the old limits goes on under the new ones right away.
    public func update(_ setting: RateLimitOption) {
        let now = MonotonicClock.nanoseconds
        let wake = state.withLock { state -> DeadlineTimer? in
            state.setting = setting
            state.bytes = setting.bytes.map { TokenBucket($0, now: now) }
            state.operations = setting.operations.map { TokenBucket($0, now: now) }
            if setting.isUnlimited { state.endWait(now: now) }
            return state.wake
        }
        limited.store(!setting.isUnlimited, ordering: .relaxed)
        wake?.arm(nanoseconds: 1)
    }

    /// nil when the next operation may start now; otherwise how many nanoseconds the queue
    /// must wait (counted as one wait until an operation is admitted again).
    func delay() -> UInt64? {
        guard limited.load(ordering: .relaxed) else { return nil }
        let now = MonotonicClock.nanoseconds
        return state.withLock { state -> UInt64? in
            state.bytes?.refill(now: now)
            state.operations?.refill(now: now)
            let wait = max(state.bytes?.wait ?? 0, state.operations?.wait ?? 0)
            // Below a microsecond the timer would fire before the worker is back in poll.
            guard wait >= 1000 else {
                state.endWait(now: now)
                return nil
            }
            if state.throttledSince == nil {
                state.throttledSince = now
                state.statistics.waits &+= 1
            }
            return wait
        }
    }

    /// Takes the tokens of an operation that moved `bytes` bytes.
    func consume(bytes: Int) {
        guard limited.load(ordering: .relaxed) else { return }
        state.withLock { state in
            state.bytes?.take(bytes)
            state.operations?.take(1)
        }
    }

    /// The worker that serves the queue from now on waits on `timer`; nil when it stops.
    func attach(_ timer: DeadlineTimer?) {
        let now = MonotonicClock.nanoseconds
        state.withLock { state in
            state.wake = timer
            if timer == nil { state.endWait(now: now) }
        }
    }
}

/// What a rate limiter made its queue do so far.
public struct RateLimiterStatistics: Equatable, Sendable {
    /// Times the queue had to stop and wait for tokens.
    public var waits: UInt64 = 0
    /// Nanoseconds it spent waiting in all.
    public var throttledNanoseconds: UInt64 = 0

    public init() {}
}
