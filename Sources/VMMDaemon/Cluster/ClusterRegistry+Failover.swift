import Etcd
import Foundation
import VMMAPI

/// The manager's writes (docs/cluster.md section 2): each compares the manager's campaign
/// key, so a manager that lost the election writes nothing.
extension ClusterRegistry {
    /// Restarts a VM of a failed host on `target`: `if create_revision(owners/NAME) == 0
    /// and mod_revision(vms/NAME) == R and create_revision(hosts/TARGET) == C and
    /// create_revision(MANAGER_KEY) == M then put(owners/NAME, lease of TARGET),
    /// put(vms/NAME assigned to TARGET), put(status/NAME starting)`. False when anything
    /// changed since it was read (the next round reads again).
    func failOver(_ entry: Entry, to target: Host, reason: String, manager: EtcdLeadership) async throws -> Bool {
        let name = entry.record.definition.name
        var record = entry.record
        record.host = target.record.name
        let status = ClusterVMStatus(host: target.record.name, state: .starting, reason: reason, at: ClusterTime.format(Date()))
        return try await etcd.txn(
            compare: [
                .absent(Self.ownerKey(name)), .unchanged(Self.vmKey(name), since: entry.revision),
                EtcdCompare(ClusterMembership.hostsPrefix + target.record.name, .createRevision(target.createRevision)),
                EtcdCompare(manager.key, .createRevision(manager.revision)),
            ],
            success: [
                .put(Self.ownerKey(name), value: try Self.json(ClusterOwner(host: target.record.name, reason: reason)), lease: target.lease),
                .put(Self.vmKey(name), value: try Self.json(record)),
                .put(Self.statusKey(name), value: try Self.json(status)),
            ]
        ).succeeded
    }

    /// Writes the status of a VM that exists and runs nowhere (`pending`, or `crashed` with
    /// its failed host), while `manager` leads. False when it is owned now or gone.
    func setStatus(_ name: String, _ status: ClusterVMStatus, manager: EtcdLeadership) async throws -> Bool {
        try await etcd.txn(
            compare: [
                .absent(Self.ownerKey(name)), EtcdCompare(Self.vmKey(name), .createRevision(0), .notEqual),
                EtcdCompare(manager.key, .createRevision(manager.revision)),
            ],
            success: [.put(Self.statusKey(name), value: try Self.json(status))]
        ).succeeded
    }
}

extension ClusterRegistry.Host {
    /// Counts `definition` as promised here, until the host's record says so itself.
    mutating func commit(_ definition: VMDefinition) {
        record.committed?.memory += definition.memory
        record.committed?.vcpus += definition.cpus
    }
}
