import Etcd
import Foundation
import VMMAPI

/// Cluster mode's ownership and published state: a start claims the VM in etcd first, and
/// this host's writes about its VMs (states, releases, arrivals, changed definitions) go
/// out in order through one queue (docs/cluster.md, section 8).
extension VMManager {
    /// One write to etcd about a VM of this host, made in order by one task.
    enum ClusterWrite: Sendable {
        case status(String, VMState, reason: String?)
        case release(String)
        /// A VM that arrived here (a migration): the registry moves it to this host.
        case arrived(String)
        /// A VM's definition changed here (PATCH, a balloon target, live limits).
        case definition(String)
    }

    /// Makes this host the owner of VM `name` before its `vmm` starts: a 409 when another
    /// host owns it or has it, a 503 while this host is not registered or etcd is away.
    func claimOwnership(_ name: String) async throws {
        guard let registry, let cluster else { return }
        await flushClusterWrites()
        guard let lease = await registeredLease(cluster, within: .seconds(2)) else {
            throw APIError(
                code: .unavailable,
                message: "cannot start VM \(name): this host is not registered in the cluster now (`vmctl host` says why)")
        }
        let claim: ClusterRegistry.Claim
        do {
            claim = try await registry.claim(name, lease: lease, reason: "started")
        } catch {
            throw Self.etcdUnavailable("start VM \(name)", error)
        }
        switch claim {
        case .claimed: return
        case .unknown:
            // Defined here while etcd was away: publish it first.
            guard let definition = vms[name]?.definition else { return }
            if case .taken(let existing) = try await registry.define(definition, on: registry.hostName) {
                throw Self.nameTaken(name, on: existing.host)
            }
            try await claimOwnership(name)
        case .assigned(let host):
            throw APIError(code: .conflict, message: "cannot start VM \(name) here: the cluster has it on host \(host)")
        case .owned(let host):
            throw APIError(code: .conflict, message: "cannot start VM \(name) here: it runs on host \(host)")
        }
    }

    /// This host's lease, waiting up to `limit` for a registration under way (a lease that
    /// was just lost is replaced within about a keep-alive interval).
    private func registeredLease(_ cluster: ClusterMembership, within limit: Duration) async -> Int64? {
        let deadline = ContinuousClock.now + limit
        while true {
            if let lease = await cluster.lease { return lease }
            guard ContinuousClock.now < deadline else { return nil }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Queues a write about a VM of this host; one task makes them in order.
    func clusterWrite(_ write: ClusterWrite) {
        guard cluster != nil else { return }
        pendingClusterWrites.append(write)
        guard clusterWriter == nil else { return }
        startClusterWriter()
    }

    private func startClusterWriter() {
        let done = ExitSignal()
        clusterWritesDone = done
        clusterWriter = Task {
            await self.writeToCluster()
            done.fire()
        }
    }

    /// Waits until every queued write was made (or given up on).
    func flushClusterWrites() async {
        while let writer = clusterWriter { await writer.value }
    }

    /// As `flushClusterWrites`, for at most `seconds` (an answer should not wait long for
    /// an etcd that is away).
    func flushClusterWrites(within seconds: Double) async {
        guard clusterWriter != nil, let done = clusterWritesDone else { return }
        _ = await done.wait(seconds: seconds)
    }

    /// Makes the queued writes, each tried 3 times half a second apart, then given up
    /// (logged: the reconcile after the next registration puts etcd right).
    private func writeToCluster() async {
        while !pendingClusterWrites.isEmpty {
            let write = pendingClusterWrites.removeFirst()
            for attempt in 1...3 {
                do {
                    try await perform(write)
                    break
                } catch {
                    guard attempt < 3 else {
                        logger.warning("cluster: cannot record \(write) in etcd, giving up: \(error)")
                        break
                    }
                    try? await Task.sleep(for: .milliseconds(500))
                }
            }
        }
        if let cluster { await cluster.setCommitment(commitment()) }
        clusterWriter = nil
        if !pendingClusterWrites.isEmpty { startClusterWriter() }
    }

    private func perform(_ write: ClusterWrite) async throws {
        guard let registry, let cluster else { return }
        switch write {
        case .status(let name, let state, let reason):
            try await registry.publish(name, state, reason: reason)
        case .release(let name):
            guard let lease = await cluster.lease else { return }
            try await registry.release(name, lease: lease)
        case .arrived(let name):
            guard let definition = vms[name]?.definition, let lease = await cluster.lease else { return }
            try await registry.take(definition, lease: lease, reason: "migrated here")
        case .definition(let name):
            guard let definition = vms[name]?.definition, let entry = try await registry.vm(name), entry.record.host == registry.hostName,
                  entry.record.definition != definition
            else { return }
            _ = try await registry.update(ClusterVMRecord(definition: definition, host: registry.hostName), revision: entry.revision)
        }
    }

    /// Before a VM of this host is deleted: removes it from etcd (after its ownership was
    /// released), so that no host lists it and a rejoin does not bring it back. A 503 when
    /// etcd does not answer: nothing is deleted then.
    func unregisterFromCluster(_ name: String) async throws {
        guard let registry else { return }
        await flushClusterWrites()
        do {
            for _ in 0..<5 {
                guard let entry = try await registry.vm(name) else { return }
                guard entry.record.host == registry.hostName, entry.owner == nil else {
                    throw APIError(code: .conflict, message: "cannot delete VM \(name): the cluster has it on host \(entry.host)")
                }
                if try await registry.remove(name, revision: entry.revision) { return }
            }
        } catch {
            throw Self.etcdUnavailable("delete VM \(name)", error)
        }
    }
}
