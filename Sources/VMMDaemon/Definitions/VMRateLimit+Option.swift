import DeviceOptions
import VMMAPI

extension VMRateLimit {
    /// The limit as `vmm`'s options take it; throws for a burst without its rate or a value
    /// `--disk`/`--net` would refuse, naming `field`.
    func option(field: String) throws(DeviceOptionError) -> RateLimitOption {
        func bucket(_ rate: UInt64?, _ burst: UInt64?, _ name: String, isBytes: Bool) throws(DeviceOptionError) -> RateLimitOption.Bucket? {
            guard let rate else {
                guard burst == nil else { throw DeviceOptionError("\(field).\(name)Burst needs \(field).\(name)PerSecond as well") }
                return nil
            }
            let bucket = RateLimitOption.Bucket(rate: rate, burst: burst)
            try RateLimitOption.check(bucket, isBytes: isBytes, field: "\(field).\(name)PerSecond")
            return bucket
        }
        return RateLimitOption(
            bytes: try bucket(bytesPerSecond, bytesBurst, "bytes", isBytes: true),
            operations: try bucket(opsPerSecond, opsBurst, "ops", isBytes: false))
    }
}

extension VMDisk {
    /// The disk as a `--disk` option, limits included.
    func option(field: String) throws(DeviceOptionError) -> DiskOption {
        DiskOption(
            path: path, readOnly: readOnly,
            rateLimit: try rateLimit?.option(field: "\(field).rateLimit") ?? RateLimitOption())
    }
}
