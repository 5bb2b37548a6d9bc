import DeviceOptions
import VMMAPI

extension VMRateLimit {
    /// The definition's form of a `--disk`/`--net` limit; nil when nothing is limited.
    init?(_ option: RateLimitOption) {
        guard !option.isUnlimited else { return nil }
        self.init(
            bytesPerSecond: option.bytes?.rate, bytesBurst: option.bytes?.burst,
            opsPerSecond: option.operations?.rate, opsBurst: option.operations?.burst)
    }
}
