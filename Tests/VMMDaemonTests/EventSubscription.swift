import ClusterTestSupport

extension DaemonHarness {
    /// Waits until a client of `/v1/events` that was just started is subscribed: creates
    /// throwaway VMs until the creation of one shows in `output` (the client's output so
    /// far), then deletes them. Returns whether it saw one.
    func awaitSubscription(_ output: () -> String) async throws -> Bool {
        var probes: [String] = []
        var subscribed = false
        for attempt in 0..<40 where !subscribed {
            let name = "subscription-probe-\(attempt)"
            try await create(name)
            probes.append(name)
            subscribed = try await eventually(seconds: 0.25) { output().contains(#""vm":"\#(name)""#) }
        }
        for name in probes {
            _ = try await request("DELETE", "/v1/vms/\(name)")
        }
        return subscribed
    }
}
