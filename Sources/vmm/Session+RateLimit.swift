import VMMCore

/// The `limit` requests and the rate limiters' part of `status`.
extension Session {
    private var blockDevices: [VirtioBlockDevice] {
        currentGuest?.inputs.virtioDevices.compactMap { $0 as? VirtioBlockDevice } ?? []
    }

    private var networkDevices: [VirtioNetworkDevice] {
        currentGuest?.inputs.virtioDevices.compactMap { $0 as? VirtioNetworkDevice } ?? []
    }

    /// Replaces disk `index`'s limits at once; answers with the disk's object of `status`.
    func limitDisk(_ index: Int, _ limit: RateLimitConfiguration) throws(ControlError) -> JSONValue {
        let disks = blockDevices
        guard disks.indices.contains(index) else {
            throw ControlError(.badRequest, "this VM has \(disks.count) disk(s): no disk \(index) (disks count from 0)")
        }
        disks[index].rateLimiter.update(limit)
        return .object([("ok", .bool(true)), ("disk", Self.json(disks[index]))])
    }

    /// Replaces both directions' limits of NIC `index` at once.
    func limitNetwork(_ index: Int, receive: RateLimitConfiguration, transmit: RateLimitConfiguration) throws(ControlError) -> JSONValue {
        let networks = networkDevices
        guard networks.indices.contains(index) else {
            throw ControlError(.badRequest, "this VM has \(networks.count) NIC(s): no NIC \(index) (NICs count from 0)")
        }
        networks[index].receiveLimiter.update(receive)
        networks[index].transmitLimiter.update(transmit)
        return .object([("ok", .bool(true)), ("network", Self.json(networks[index]))])
    }

    /// `"disks":[...],"networks":[...]` for `status`: each device's limits and waits.
    var rateLimitStatus: [(String, JSONValue)] {
        [("disks", .array(blockDevices.map(Self.json))), ("networks", .array(networkDevices.map(Self.json)))]
    }

    /// `{"bps":B,"bps_burst":B,"iops":N,"iops_burst":N,"waits":N,"throttled_ms":N}`, limits only when set.
    private static func json(_ disk: VirtioBlockDevice) -> JSONValue {
        .object(members(disk.rateLimiter, operations: "iops"))
    }

    /// `{"mac":...,"rx":{"bps":..,"pps":..,"waits":..,"throttled_ms":..},"tx":{...}}`.
    private static func json(_ network: VirtioNetworkDevice) -> JSONValue {
        .object([
            ("tap", .string(network.tap.name)),
            ("rx", .object(members(network.receiveLimiter, operations: "pps"))),
            ("tx", .object(members(network.transmitLimiter, operations: "pps"))),
        ])
    }

    private static func members(_ limiter: RateLimiter, operations: String) -> [(String, JSONValue)] {
        let setting = limiter.setting
        let statistics = limiter.statistics
        var members: [(String, JSONValue)] = []
        for (name, bucket) in [("bps", setting.bytes), (operations, setting.operations)] {
            guard let bucket else { continue }
            members += [(name, .integer(Int(clamping: bucket.rate))), ("\(name)_burst", .integer(Int(clamping: bucket.burst)))]
        }
        return members + [
            ("waits", .integer(Int(clamping: statistics.waits))),
            ("throttled_ms", .integer(Int(clamping: statistics.throttledNanoseconds / 1_000_000))),
        ]
    }
}
