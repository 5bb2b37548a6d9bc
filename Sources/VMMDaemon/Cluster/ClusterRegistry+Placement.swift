import VMMAPI

/// Placement: which host a VM goes to (docs/cluster.md, section 2).
extension ClusterRegistry.Snapshot {
    /// The hosts a VM may be placed on, best first: never a draining host; the most free
    /// guest RAM (admission capacity minus what is promised to running VMs, from each
    /// record's `committed`), then the most free vCPUs, then the fewest VMs assigned, then
    /// by name. A host's `fits` says whether the VM would be admitted there now.
    func placement(for definition: VMDefinition, excluding excluded: Set<String> = []) -> [(host: ClusterRegistry.Host, fits: Bool)] {
        var assigned: [String: Int] = [:]
        for entry in vms.values { assigned[entry.host, default: 0] += 1 }
        let candidates = hosts.values.filter { $0.record.mode != "draining" && !excluded.contains($0.record.name) }
        return candidates.map { host in
            let free = host.free
            return (host, free.memory >= Int64(clamping: definition.memory) && free.vcpus >= definition.cpus)
        }.sorted { left, right in
            let (a, b) = (left.host.free, right.host.free)
            if a.memory != b.memory { return a.memory > b.memory }
            if a.vcpus != b.vcpus { return a.vcpus > b.vcpus }
            let (countA, countB) = (assigned[left.host.record.name] ?? 0, assigned[right.host.record.name] ?? 0)
            if countA != countB { return countA < countB }
            return left.host.record.name < right.host.record.name
        }
    }
}

extension ClusterRegistry.Host {
    /// Guest RAM (bytes) and vCPUs the host may still promise; a record without
    /// `committed` counts its whole RAM and CPUs.
    var free: (memory: Int64, vcpus: Int) {
        guard let committed = record.committed else { return (Int64(clamping: record.memory), record.cpus) }
        return (Int64(clamping: committed.memoryCapacity) - Int64(clamping: committed.memory), committed.vcpuCapacity - committed.vcpus)
    }
}
