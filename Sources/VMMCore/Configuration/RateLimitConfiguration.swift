import DeviceOptions

/// A disk's or NIC direction's token buckets: the rate-limit settings of `--disk` and
/// `--net` as parsed (bytes and operations per second, each with a burst).
public typealias RateLimitConfiguration = RateLimitOption
