import DeviceOptions

/// One token bucket: `capacity` tokens at most, `rate` more per second. Operations take
/// tokens and may leave it in debt; the next one waits until the debt is paid.
struct TokenBucket: Sendable {
    let rate: Double
    let capacity: Double
    private(set) var tokens: Double
    private var refilled: UInt64

    /// Starts full, at `now` (monotonic nanoseconds).
    init(_ setting: RateLimitOption.Bucket, now: UInt64) {
        rate = Double(setting.rate)
        capacity = Double(setting.burst)
        tokens = capacity
        refilled = now
    }

    mutating func refill(now: UInt64) {
        guard now > refilled else { return }
        tokens = min(capacity, tokens + Double(now - refilled) * rate / 1e9)
        refilled = now
    }

    /// Nanoseconds until the bucket is out of debt; 0 when it is not in debt.
    var wait: UInt64 {
        tokens >= 0 ? 0 : UInt64((-tokens / rate * 1e9).rounded(.up))
    }

    mutating func take(_ amount: Int) {
        tokens -= Double(amount)
    }
}
