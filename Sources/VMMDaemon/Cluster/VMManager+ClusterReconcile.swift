import Etcd
import Foundation
import VMMAPI

/// Cluster mode's reconcile after each registration (docs/cluster.md, section 8,
/// "Joining and restarting").
extension VMManager {
    /// After each registration (a new lease): etcd and this host agree on its VMs
    /// (docs/cluster.md, section 8, "Joining and restarting"); after the first, the
    /// autostart VMs start (each claims its ownership, so a VM that runs elsewhere now
    /// does not start here).
    func reconcile(lease: Int64) async {
        guard let registry, let me = clusterHostName else { return }
        let snapshot: ClusterRegistry.Snapshot
        do {
            snapshot = try await registry.snapshot()
        } catch {
            return logger.warning("cluster: cannot reconcile this host's VMs with etcd now: \(error)")
        }
        for (name, entry) in snapshot.vms.sorted(by: { $0.key < $1.key }) where entry.host == me && vms[name] == nil {
            adoptAssigned(entry.record.definition)
        }
        for name in vms.keys.sorted() {
            guard let vm = vms[name] else { continue }
            do {
                try await reconcile(vm, with: snapshot.vms[name], registry: registry, lease: lease)
            } catch {
                logger.warning("cluster: cannot reconcile VM \(name) with etcd: \(error)")
            }
        }
        // Owner keys of VMs that no longer run here go, so the manager places them: those of
        // an older lease, and those the previous daemon wrote under the lease this one
        // renewed, for VMs fenced or ended while no daemon ran.
        let resumedAt = await cluster?.resumedAt
        for (name, entry) in snapshot.vms
        where entry.owner?.host == me && vms[name]?.state.hasProcess != true
            && (entry.ownerLease != lease || resumedAt.map { entry.ownerRevision < $0 } == true) {
            _ = try? await registry.etcd.txn(
                compare: [.unchanged(ClusterRegistry.ownerKey(name), since: entry.ownerRevision)],
                success: [.delete(ClusterRegistry.ownerKey(name))])
        }
        if let cluster { await cluster.setCommitment(commitment()) }
        if !autostarted {
            autostarted = true
            autostart()
        }
    }

    private func reconcile(_ vm: ManagedVM, with entry: ClusterRegistry.Entry?, registry: ClusterRegistry, lease: Int64) async throws {
        let name = vm.definition.name
        let me = registry.hostName
        if let entry, entry.host != me {
            if vm.state.hasProcess {
                guard entry.owner == nil else {
                    return logger.error("cluster: VM \(name) runs here, but etcd says it runs on \(entry.host): leaving both to the manager")
                }
                try await registry.take(vm.definition, lease: lease, reason: "rejoined")
            } else {
                // Moved while this host was away (drained, or restarted elsewhere): it lives there.
                try saving { try store.remove(name) }
                vms[name] = nil
                logger.info("cluster: VM \(name) is on host \(entry.host) now; forgot it here")
            }
            return
        }
        if let entry, entry.record.definition != vm.definition {
            _ = try await registry.update(ClusterVMRecord(definition: vm.definition, host: me), revision: entry.revision)
        }
        if entry == nil, case .taken(let existing) = try await registry.define(vm.definition, on: me) {
            return logger.error("cluster: VM \(name) is defined here and on host \(existing.host)")
        }
        if vm.state.hasProcess { _ = try await registry.claim(name, lease: lease, reason: "rejoined") }
        try await registry.publish(name, vm.state, reason: "host registered")
    }
}
