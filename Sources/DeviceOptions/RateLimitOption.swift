import Sizes

/// A token-bucket rate limit on a disk or one direction of a NIC, as `--disk` and `--net`
/// spell it: bytes per second and operations per second (disk requests, or frames), each
/// with a burst, e.g. `bps=10M,iops=500,iops-burst=50`.
///
/// A bucket holds up to `burst` tokens and gains `rate` per second; an operation may start
/// while its bucket is not in debt and then takes what it needs, possibly going into debt
/// (so one large request is never stuck behind a small burst). Over time at most
/// `burst + rate × seconds` pass, plus one operation.
public struct RateLimitOption: Equatable, Sendable {
    /// One bucket: tokens gained per second, and how many it holds (the burst).
    public struct Bucket: Equatable, Sendable {
        public var rate: UInt64
        public var burst: UInt64

        public init(rate: UInt64, burst: UInt64? = nil) {
            self.rate = rate
            self.burst = burst ?? Self.defaultBurst(rate: rate)
        }

        /// A tenth of a second's worth (at least 1): smooth, yet a request that waits does not
        /// lose what a whole second of quiet would have allowed.
        public static func defaultBurst(rate: UInt64) -> UInt64 { max(1, rate / 10) }
    }

    /// 1 TiB/s: more is no limit, and a larger value is surely a typo.
    public static let maximumBytesPerSecond: UInt64 = 1 << 40
    /// A hundred million operations per second: far beyond any virtio queue.
    public static let maximumOperationsPerSecond: UInt64 = 100_000_000

    public var bytes: Bucket?
    public var operations: Bucket?

    public init(bytes: Bucket? = nil, operations: Bucket? = nil) {
        self.bytes = bytes
        self.operations = operations
    }

    /// Whether nothing is limited.
    public var isUnlimited: Bool { bytes == nil && operations == nil }

    /// The keys this limit takes after `prefix` (`""` for a disk, `"rx-"`/`"tx-"` for a
    /// NIC): `bps`, `bps-burst`, and `operationsKey` (`iops` or `pps`) with `-burst`.
    public static func keys(prefix: String, operationsKey: String) -> [String] {
        ["bps", "bps-burst", operationsKey, "\(operationsKey)-burst"].map { prefix + $0 }
    }

    /// Collects limits from `key=value` settings; `finish` checks them as a whole.
    public struct Builder {
        let prefix: String
        let operationsKey: String
        var values: [String: UInt64] = [:]

        public init(prefix: String, operationsKey: String) {
            self.prefix = prefix
            self.operationsKey = operationsKey
        }

        /// Takes `key=value` if `key` is one of this limit's; returns false for another key.
        /// Byte values take K, M, G, T suffixes (powers of 1024), operations plain numbers.
        public mutating func take(_ key: String, _ value: String, in text: String, option: String) throws(DeviceOptionError) -> Bool {
            guard RateLimitOption.keys(prefix: prefix, operationsKey: operationsKey).contains(key) else { return false }
            guard values[key] == nil else {
                throw DeviceOptionError("\(option) '\(text)': \(key) is given twice; give it once")
            }
            let isBytes = key.dropFirst(prefix.count).hasPrefix("bps")
            let maximum = isBytes ? RateLimitOption.maximumBytesPerSecond : RateLimitOption.maximumOperationsPerSecond
            let number = isBytes ? ByteSize.parse(value) : UInt64(value)
            guard let number, number >= 1, number <= maximum else {
                let what = isBytes ? "a byte count such as 10M (K, M, G: powers of 1024)" : "a whole number"
                throw DeviceOptionError(
                    "\(option) '\(text)': \(key)=\(value) must be \(what) from 1 to \(maximum); "
                        + "leave \(key) out for no limit")
            }
            values[key] = number
            return true
        }

        /// The limit; throws for a burst without its rate.
        public func finish(in text: String, option: String) throws(DeviceOptionError) -> RateLimitOption {
            func bucket(_ name: String) throws(DeviceOptionError) -> Bucket? {
                let rateKey = prefix + name, burstKey = "\(prefix)\(name)-burst"
                guard let rate = values[rateKey] else {
                    guard values[burstKey] == nil else {
                        throw DeviceOptionError("\(option) '\(text)': \(burstKey) needs \(rateKey) as well")
                    }
                    return nil
                }
                return Bucket(rate: rate, burst: values[burstKey])
            }
            return RateLimitOption(bytes: try bucket("bps"), operations: try bucket(operationsKey))
        }
    }

    /// The settings that give this limit, e.g. `["bps=10485760", "iops=500", "iops-burst=50"]`;
    /// default bursts are left out.
    public func optionItems(prefix: String, operationsKey: String) -> [String] {
        var items: [String] = []
        for (name, bucket) in [("bps", bytes), (operationsKey, operations)] {
            guard let bucket else { continue }
            items.append("\(prefix)\(name)=\(bucket.rate)")
            if bucket.burst != Bucket.defaultBurst(rate: bucket.rate) { items.append("\(prefix)\(name)-burst=\(bucket.burst)") }
        }
        return items
    }

    /// Throws unless a value from elsewhere (an API field) is in the range `--disk` takes.
    public static func check(_ bucket: Bucket, isBytes: Bool, field: String) throws(DeviceOptionError) {
        let maximum = isBytes ? maximumBytesPerSecond : maximumOperationsPerSecond
        for (name, value) in [("rate", bucket.rate), ("burst", bucket.burst)] where value < 1 || value > maximum {
            throw DeviceOptionError(
                "\(field): the \(name) \(value) is not from 1 to \(maximum); leave the limit out for none")
        }
    }
}
