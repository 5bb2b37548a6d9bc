import DeviceOptions
import VMMAPI

/// Limits changed on a running VM: `PATCH` with `disks` or `networks` that differ from the
/// definition only in their rate limits reaches the VM's `vmm` at once (`limit` requests),
/// and new `limits` its cgroup.
extension VMManager {
    /// Whether `patched` differs from `current` in disk and NIC rate limits and `limits` only
    /// (a NIC without `mac` keeps its address).
    static func changesOnlyLimits(_ current: VMDefinition, _ patched: VMDefinition) -> Bool {
        func unlimited(_ definition: VMDefinition) -> VMDefinition {
            var result = definition
            result.limits = nil
            for index in result.disks.indices { result.disks[index].rateLimit = nil }
            for index in result.networks.indices {
                result.networks[index].receiveLimit = nil
                result.networks[index].transmitLimit = nil
                if index < current.networks.count, result.networks[index].mac == nil {
                    result.networks[index].mac = current.networks[index].mac
                }
            }
            return result
        }
        return current != patched && unlimited(current) == unlimited(patched)
    }

    /// Sends each changed rate limit to the running VM's `vmm`, writes changed `limits` to
    /// its cgroup, then keeps the definition.
    func applyLimits(_ name: String, _ change: VMDefinition) async throws -> VMInfo {
        let current = try lookup(name).definition
        var change = change
        for index in change.networks.indices where change.networks[index].mac == nil {
            change.networks[index].mac = current.networks[index].mac
        }
        try change.validate()
        let patched = try change.withMACAddresses()
        try checkIdle(name)
        let disks: [DiskOption], networks: [NetworkOption]
        do {
            disks = try patched.diskOptions()
            networks = try patched.networkOptions()
        } catch {
            throw APIError(code: .badRequest, message: error.message)
        }
        let channel = ControlChannel(socketPath: runtimeDirectory(name).controlSocket)
        for (index, disk) in disks.enumerated() where current.disks[index].rateLimit != patched.disks[index].rateLimit {
            try await channel.send("limit disk \(index) \(Self.settings(disk.rateLimit.optionItems(prefix: "", operationsKey: "iops")))")
        }
        for (index, network) in networks.enumerated()
        where current.networks[index].receiveLimit != patched.networks[index].receiveLimit
            || current.networks[index].transmitLimit != patched.networks[index].transmitLimit
        {
            try await channel.send("limit net \(index) \(Self.settings(network.limitItems))")
        }
        if current.limits != patched.limits,
            let problem = cgroups.limit(nil, vm: name, limits: patched.limits, guestMemory: current.memory)
        {
            throw APIError(code: .conflict, message: "VM \(name): \(problem)")
        }
        // The VM may have changed meanwhile (the actor is reentrant at the awaits).
        var definition = try lookup(name).definition
        definition.disks = patched.disks
        definition.networks = patched.networks
        definition.limits = patched.limits
        try saving { try store.save(definition) }
        vms[name]?.definition = definition
        clusterWrite(.definition(name))
        logger.info("VM \(name): limits changed")
        return try await liveInfo(name)
    }

    private static func settings(_ items: [String]) -> String {
        items.isEmpty ? "none" : items.joined(separator: ",")
    }
}
