import Foundation
import VMMAPI

/// `vmctl host drain` in a cluster: the targets are the cluster's other hosts that are not
/// draining, and a stopped VM moves by reassigning it in etcd.
extension VMManager {
    /// Every other registered host that is not draining; a 400 outside a cluster (where
    /// `to` must name them) and a 409 when there is none.
    func clusterDrainTargets() async throws -> [HostAndPort] {
        guard let registry, let me = clusterHostName else {
            throw APIError(code: .badRequest, message: "to must name at least one daemon (HOST:PORT) to move the VMs to")
        }
        let snapshot: ClusterRegistry.Snapshot
        do {
            snapshot = try await registry.snapshot()
        } catch {
            throw Self.etcdUnavailable("drain this host", error)
        }
        let hosts = snapshot.hosts.values.filter { $0.record.name != me && $0.record.mode != "draining" }
        guard !hosts.isEmpty else {
            throw APIError(code: .conflict, message: "cannot drain: no other host of the cluster takes VMs now (all draining or down)")
        }
        return try hosts.sorted { $0.record.name < $1.record.name }.map { try Self.address(of: $0.record) }
    }

    /// Moves a stopped VM to the host placement picks (never this one, never a draining
    /// one): reassigned in etcd by a txn on the revision read, then forgotten here; the
    /// target defines it when asked about it (it is asked at once).
    func moveDefinitionInCluster(_ name: String) async {
        guard let registry, let me = clusterHostName, let vm = vms[name], !vm.state.hasProcess else { return }
        guard vm.definition.restoreFrom == nil else {
            return recordDrain(name, to: nil, "failed", "a clone that never started needs its snapshot, which is here")
        }
        do {
            let snapshot = try await registry.snapshot()
            guard let entry = snapshot.vms[name], entry.host == me else {
                return recordDrain(name, to: nil, "failed", "the cluster does not have it on this host")
            }
            guard let target = snapshot.placement(for: vm.definition, excluding: [me]).first?.host else {
                return recordDrain(name, to: nil, "failed", "no other host takes VMs now")
            }
            guard let now = vms[name], !now.state.hasProcess, busy[name] == nil else {
                return recordDrain(name, to: target.record.name, "failed", "it was started here during the drain")
            }
            guard try await registry.assign(entry, to: target.record.name) != nil else {
                return recordDrain(name, to: target.record.name, "failed", "it changed in the cluster meanwhile")
            }
            try? saving { try store.remove(name) }
            vms[name] = nil
            try? snapshots.removeAll(name)
            runtimeDirectory(name).remove()
            departed[name] = Departure(to: target.record.name, time: Date(), console: now.console)
            publish(.migrated, name, snapshot: nil, peer: target.record.name, reason: "definition moved to host \(target.record.name)",
                    state: .stopped)
            recordDrain(name, to: target.record.name, "defined", nil)
            // The target defines it now rather than when first asked.
            if let peers { _ = try? await peers.send(try Self.address(of: target.record), .GET, "/v1/vms/\(name)") }
        } catch {
            recordDrain(name, to: nil, "failed", "\(Self.etcdUnavailable("move its definition", error).message)")
        }
    }
}
