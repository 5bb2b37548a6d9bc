import Etcd
import Foundation
import VMMAPI

/// The target's half of a failover (docs/cluster.md section 5): the manager makes this host
/// the owner of a failed host's HA VM (`vmm/owners/NAME`, reason `failover from H`, bound
/// to this host's lease); this host sees the key appear and starts the VM, cold, from its
/// shared disks. A start that fails gives the VM back to the manager as `pending`.
extension VMManager {
    /// What every cluster host does besides serving its VMs, for as long as the daemon
    /// runs: keeping its HA VMs' fence deadlines, campaigning to be the manager (and
    /// managing while it wins), and starting what a manager fails over to it.
    func takeClusterDuties(_ membership: ClusterMembership) {
        Task { await keepFencesExtended(membership) }
        Task { await startFailedOverVMs(membership.registry) }
        Task { await relayOtherHostsEvents(membership.registry) }
        Task { await ClusterManager(membership: membership, registry: membership.registry, logger: logger).run() }
    }

    /// Watches `vmm/owners/` for failovers to this host, for as long as the daemon runs.
    func startFailedOverVMs(_ registry: ClusterRegistry) async {
        let prefix = ClusterRegistry.ownersPrefix
        while !Task.isCancelled {
            do {
                let current = try await registry.etcd.get(prefix: prefix)
                for keyValue in current.keyValues { await takeOver(keyValue, registry) }
                for try await event in EtcdWatch(registry.etcd, key: prefix, prefix: true, fromRevision: current.revision + 1)
                where event.kind == .put {
                    await takeOver(event.keyValue, registry)
                }
            } catch {
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    /// Acts on a failover's owner key: starts the VM when a manager made this host, under
    /// its current lease, the owner of a VM that does not run here; forgets this host's
    /// stale copy of one restarted elsewhere.
    private func takeOver(_ keyValue: EtcdKeyValue, _ registry: ClusterRegistry) async {
        guard let owner = try? keyValue.decode(ClusterOwner.self), owner.reason.hasPrefix("failover") else { return }
        let name = String(keyValue.key.dropFirst(ClusterRegistry.ownersPrefix.count))
        guard owner.host == registry.hostName else {
            // Fenced here, restarted there: this host's copy is stale.
            if let vm = vms[name], !vm.state.hasProcess, busy[name] == nil {
                try? saving { try store.remove(name) }
                vms[name] = nil
                logger.info("cluster: VM \(name) runs on \(owner.host) now (\(owner.reason)); forgot it here")
            }
            return
        }
        guard keyValue.lease == (await cluster?.lease) else { return }
        guard vms[name]?.state.hasProcess != true, busy[name] == nil else { return }
        do {
            guard let entry = try await registry.vm(name), entry.record.host == registry.hostName else { return }
            if let vm = vms[name], vm.definition != entry.record.definition {
                try saving { try store.save(entry.record.definition) }
                vms[name]?.definition = entry.record.definition
            }
            adoptAssigned(entry.record.definition)
            _ = try await start(name)
            logger.warning("cluster: VM \(name) runs here now (\(owner.reason))")
            publish(.failedOver, name, snapshot: nil, peer: owner.reason.replacingOccurrences(of: "failover from ", with: ""),
                    reason: "restarted here: \(owner.reason)")
        } catch {
            logger.error("cluster: cannot start VM \(name) here (\(owner.reason)): \(error); the manager places it again")
            let status = ClusterVMStatus(
                host: registry.hostName, state: .pending, reason: "\(owner.reason); starting on \(registry.hostName) failed: \(error)",
                at: ClusterTime.format(Date()))
            _ = try? await registry.etcd.txn(
                compare: [EtcdCompare(ClusterRegistry.ownerKey(name), .lease(keyValue.lease))],
                success: [.delete(ClusterRegistry.ownerKey(name)), .put(ClusterRegistry.statusKey(name), value: try ClusterRegistry.json(status))])
        }
    }
}
