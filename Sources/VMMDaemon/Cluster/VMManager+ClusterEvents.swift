import Etcd
import Foundation
import VMMAPI

/// Cluster mode's `/v1/events`: besides this host's own events, the state changes every
/// other host publishes in etcd (`vmm/status/NAME`, docs/cluster.md section 8), so a client
/// of any host follows the whole cluster, as `GET /v1/vms` lists it.
extension VMManager {
    /// Watches `vmm/status/` from now on, for as long as the daemon runs, and publishes each
    /// change another host (or the manager, for a failed host) made as an event with `host`.
    func relayOtherHostsEvents(_ registry: ClusterRegistry) async {
        let prefix = ClusterRegistry.statusPrefix
        var from: Int64?
        while !Task.isCancelled {
            do {
                if from == nil { from = try await registry.etcd.get(prefix: prefix).revision + 1 }
                for try await change in EtcdWatch(registry.etcd, key: prefix, prefix: true, fromRevision: from ?? 0, previousValues: true)
                where change.kind == .put {
                    from = change.keyValue.modRevision + 1
                    relay(change, me: registry.hostName)
                }
            } catch {
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    private func relay(_ change: EtcdWatchEvent, me: String) {
        guard let status = try? change.keyValue.decode(ClusterVMStatus.self), status.host != me else { return }
        let before = change.previous.flatMap { try? $0.decode(ClusterVMStatus.self) }
        let previous = before?.host == status.host ? before?.state : nil
        // A host republishes its VMs' states when it registers: not a change.
        guard previous != status.state else { return }
        let name = String(change.keyValue.key.dropFirst(ClusterRegistry.statusPrefix.count))
        events.publish(VMEvent(
            time: Date().timeIntervalSince1970, vm: name, state: status.state, previous: previous, reason: status.reason,
            host: status.host))
    }
}
