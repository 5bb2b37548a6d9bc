import DeviceOptions
import Testing

@Suite struct RateLimitOptionTests {
    private typealias Bucket = RateLimitOption.Bucket

    @Test(arguments: [
        ("a.raw,bps=10M", RateLimitOption(bytes: Bucket(rate: 10 << 20, burst: 1 << 20))),
        ("a.raw,iops=500,iops-burst=5", RateLimitOption(operations: Bucket(rate: 500, burst: 5))),
        ("a.raw,readonly,bps=4096,bps-burst=1M,iops=1",
         RateLimitOption(bytes: Bucket(rate: 4096, burst: 1 << 20), operations: Bucket(rate: 1, burst: 1))),
    ])
    func diskLimitsParse(text: String, expected: RateLimitOption) throws {
        let disk = try DiskOption(parsing: text)
        #expect(disk.rateLimit == expected)
        #expect(try DiskOption(parsing: disk.optionValue) == disk, "the option value parses back: \(disk.optionValue)")
    }

    @Test func nicLimitsParseForEachDirection() throws {
        let nic = try NetworkOption(parsing: "tap=vm0,rx-pps=1000,tx-bps=1M,tx-bps-burst=64K,mac=02:00:00:00:00:01")
        #expect(nic.receiveLimit == RateLimitOption(operations: Bucket(rate: 1000)))
        #expect(nic.transmitLimit == RateLimitOption(bytes: Bucket(rate: 1 << 20, burst: 64 << 10)))
        #expect(try NetworkOption(parsing: nic.optionValue) == nic, "\(nic.optionValue)")
        #expect(try NetworkOption(parsing: "tap").receiveLimit.isUnlimited)
    }

    @Test(arguments: [
        ("a.raw,bps=0", "bps=0 must be a byte count"),
        ("a.raw,bps=-5", "bps=-5 must be a byte count"),
        ("a.raw,bps=fast", "bps=fast must be a byte count"),
        ("a.raw,bps=2T", "from 1 to 1099511627776"),
        ("a.raw,iops=1.5", "iops=1.5 must be a whole number"),
        ("a.raw,iops=100000001", "from 1 to 100000000"),
        ("a.raw,iops=99999999999999999999999", "must be a whole number"),
        ("a.raw,iops-burst=10", "iops-burst needs iops as well"),
        ("a.raw,bps=1M,bps=2M", "bps is given twice"),
        ("a.raw,pps=10", "unknown setting 'pps=10'"),
    ])
    func absurdDiskLimitsAreRefused(text: String, mentioning fragment: String) {
        #expect {
            try DiskOption(parsing: text)
        } throws: { error in
            let message = (error as? DeviceOptionError)?.message ?? ""
            return message.hasPrefix("--disk '\(text)'") && message.contains(fragment)
        }
    }

    @Test(arguments: [
        ("tap,rx-pps=0", "rx-pps=0 must be a whole number"),
        ("tap,tx-bps-burst=1M", "tx-bps-burst needs tx-bps as well"),
        ("tap,iops=5", "unknown setting 'iops=5'"),
        ("tap,rx-bps=1K,rx-bps=1K", "rx-bps is given twice"),
    ])
    func absurdNICLimitsAreRefused(text: String, mentioning fragment: String) {
        #expect {
            try NetworkOption(parsing: text)
        } throws: { error in
            let message = (error as? DeviceOptionError)?.message ?? ""
            return message.hasPrefix("--net '\(text)'") && message.contains(fragment)
        }
    }
}
