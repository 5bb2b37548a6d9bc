import VMMCore

/// The `balloon SIZE` request and the balloon's part of `status`.
extension Session {
    /// The VM's balloon device; it outlives guest reboots, like the other devices.
    var balloon: VirtioBalloonDevice? {
        currentGuest?.inputs.virtioDevices.lazy.compactMap { $0 as? VirtioBalloonDevice }.first
    }

    /// Sets the balloon's target; answers with the balloon's state.
    func setBalloonTarget(_ bytes: UInt64) throws(ControlError) -> JSONValue {
        guard let balloon else {
            throw ControlError(.conflict, "this VM has no balloon device: start it with --balloon")
        }
        do {
            try balloon.setTarget(bytes: bytes)
        } catch {
            throw ControlError(.badRequest, error.description)
        }
        return .object([("ok", .bool(true)), ("balloon", Self.json(balloon))])
    }

    /// `{"target":B,"actual":B,"driver_ready":..,"inflated":B,"reported":B,"deflated_pages":N,
    /// "refused_pages":N,"stats":{...,"age_ms":N}}`; sizes in bytes.
    static func json(_ balloon: VirtioBalloonDevice) -> JSONValue {
        let status = balloon.status
        let page = Int(GuestMemory.pageSize)
        var members: [(String, JSONValue)] = [
            ("target", .integer(Int(status.targetPages) * page)),
            ("actual", .integer(Int(status.actualPages) * page)),
            ("driver_ready", .bool(status.driverReady)),
            ("deflate_on_oom", .bool(balloon.configuration.deflateOnOOM)),
            ("free_page_reporting", .bool(balloon.configuration.freePageReporting)),
            ("inflated", .integer(Int(clamping: status.inflatedBytes))),
            ("reported", .integer(Int(clamping: status.reportedBytes))),
            ("deflated_pages", .integer(Int(clamping: status.deflatedPages))),
            ("refused_pages", .integer(Int(clamping: status.refusedPages))),
        ]
        if let statistics = status.statistics, let time = status.statisticsTime {
            var values: [(String, JSONValue)] = BalloonStatistics.names.compactMap { entry in
                statistics.values[entry.tag].map { (entry.name, .integer(Int(clamping: $0))) }
            }
            values.append(("age_ms", .integer(Int((MonotonicClock.now - time) * 1000))))
            members.append(("stats", .object(values)))
        }
        return .object(members)
    }
}
