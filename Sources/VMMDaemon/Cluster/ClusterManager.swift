import Etcd
import Foundation
import Logging
import VMMAPI

/// The elected manager (docs/cluster.md section 5): every host campaigns on `vmm/manager`
/// with its host lease; the winner restarts the HA VMs of hosts whose lease ended on the
/// hosts with room, highest `haPriority` first, and reports the others `crashed`.
///
/// Each step is a transaction that names the revisions it read and the manager's own
/// campaign key, so a deposed manager writes nothing, two managers never place a VM twice,
/// and a successor finishes what its predecessor left (the `pending` status it wrote is in
/// etcd, not here).
actor ClusterManager {
    static let electionName = "vmm/manager"
    /// How often the leader reads the registry when no watch event wakes it.
    static let period: Duration = .milliseconds(500)
    /// Test switch (documented in docs/cluster.md): a pause between marking failed hosts'
    /// VMs and placing them, so a test can kill the manager in the middle of a failover.
    static let testPause = ProcessInfo.processInfo.environment["VMMD_TEST_MANAGER_PAUSE_MS"].flatMap(Int.init).map(Duration.milliseconds)

    private let membership: ClusterMembership
    private let registry: ClusterRegistry
    private let logger: Logger
    /// The owners of the last snapshot read as leader: an owner key gone since, under a
    /// lease that is not its host's current one, is a host failure.
    private var knownOwners: [String: (host: String, lease: Int64)] = [:]
    /// The last reason written per pending VM (no rewrite while it does not change).
    private var pendingReasons: [String: String] = [:]

    init(membership: ClusterMembership, registry: ClusterRegistry, logger: Logger) {
        self.membership = membership
        self.registry = registry
        self.logger = logger
    }

    private var hostName: String { registry.hostName }

    /// Campaigns, and manages while it leads, for as long as the daemon runs.
    func run() async {
        let election = EtcdElection(registry.etcd, name: Self.electionName)
        while !Task.isCancelled {
            guard let lease = await membership.lease else {
                try? await Task.sleep(for: Self.period)
                continue
            }
            do {
                guard let leadership = try await campaign(election, lease: lease) else { continue }
                logger.info("cluster: \(hostName) is the manager (campaign \(leadership.key))")
                try await manage(leadership)
                logger.info("cluster: \(hostName) is no longer the manager")
            } catch {
                logger.warning("cluster: manager election: \(error)")
                try? await Task.sleep(for: Self.period)
            }
        }
    }

    /// Campaigns with `lease`; nil when the lease ended first (the campaign call may
    /// outlive it, so it runs apart and is left to end on its own).
    private func campaign(_ election: EtcdElection, lease: Int64) async throws -> EtcdLeadership? {
        let value = Array(hostName.utf8)
        let campaign = Task { try await election.campaign(lease: lease, value: value) }
        while !Task.isCancelled {
            if let result = await Self.result(of: campaign, within: Self.period) { return try result.get() }
            guard await membership.lease == lease else {
                campaign.cancel()
                return nil
            }
        }
        campaign.cancel()
        return nil
    }

    private static func result<T: Sendable>(of task: Task<T, any Error>, within timeout: Duration) async -> Result<T, any Error>? {
        await withTaskGroup(of: Result<T, any Error>?.self) { group in
            group.addTask { await task.result }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    /// Reads the registry and acts on it, again on each change under `vmm/hosts/` and
    /// `vmm/owners/` (or after `period`), while `leadership` lasts.
    private func manage(_ leadership: EtcdLeadership) async throws {
        knownOwners = [:]
        pendingReasons = [:]
        let etcd = registry.etcd
        let watcher = Task {
            await withTaskGroup(of: Void.self) { group in
                for prefix in [ClusterMembership.hostsPrefix, ClusterRegistry.ownersPrefix] {
                    group.addTask {
                        do {
                            for try await _ in EtcdWatch(etcd, key: prefix, prefix: true) { await self.changed() }
                        } catch {}
                    }
                }
            }
        }
        defer { watcher.cancel() }
        while !Task.isCancelled, await membership.lease == leadership.lease {
            // A change from now on wakes the next round (one that comes while this round reads is kept).
            let change = ExitSignal()
            nextChange = change
            let snapshot = try await registry.snapshot()
            // Still the manager: the campaign key lives as long as the lease.
            guard try await etcd.get(leadership.key)?.createRevision == leadership.revision else { return }
            try await act(on: snapshot, leadership)
            _ = await change.wait(seconds: Double(Self.period.components.seconds) + Double(Self.period.components.attoseconds) / 1e18)
        }
    }

    private var nextChange = ExitSignal()

    private func changed() { nextChange.fire() }

    // MARK: Decisions

    /// One round: finds the VMs of failed hosts, restarts the HA ones where they fit, in
    /// priority order, and reports the others.
    private func act(on snapshot: ClusterRegistry.Snapshot, _ leadership: EtcdLeadership) async throws {
        var snapshot = snapshot
        let failures = failedVMs(snapshot)
        knownOwners = snapshot.vms.compactMapValues { entry in entry.owner.map { ($0.host, entry.ownerLease) } }
        for (name, host) in failures.sorted(by: { $0.key < $1.key }) {
            guard let entry = snapshot.vms[name] else { continue }
            let ha = entry.record.definition.ha
            let reason = ha ? "failover from \(host): its lease ended" : "host \(host) failed (its lease ended); not HA, so not restarted"
            let status = ClusterVMStatus(host: host, state: ha ? .pending : .crashed, reason: reason, at: ClusterTime.format(Date()))
            guard try await registry.setStatus(name, status, manager: leadership) else { continue }
            snapshot.vms[name]?.status = status
            logger.warning("cluster: VM \(name) of \(host): \(ha ? "pending restart elsewhere" : "crashed") (\(reason))")
        }
        if !failures.isEmpty, let pause = Self.testPause { try await Task.sleep(for: pause) }
        let pending = snapshot.vms.values.filter { $0.owner == nil && $0.record.definition.ha && $0.status?.state == .pending }
            .sorted { ($0.record.definition.haPriority, $1.record.definition.name) > ($1.record.definition.haPriority, $0.record.definition.name) }
        for entry in pending { try await place(entry, in: &snapshot, leadership) }
    }

    /// VMs whose host failed and that nobody has dealt with yet, with that host: an owner
    /// key gone since the last round under a lease its host no longer holds, or (for a new
    /// manager, which saw no earlier round) a VM without owner whose status says it runs
    /// on a host that is not registered.
    private func failedVMs(_ snapshot: ClusterRegistry.Snapshot) -> [String: String] {
        var failed: [String: String] = [:]
        for (name, entry) in snapshot.vms where entry.owner == nil {
            if let known = knownOwners[name], snapshot.hosts[known.host]?.lease != known.lease {
                failed[name] = known.host
            } else if let status = entry.status, [.starting, .running, .paused, .stopping].contains(status.state),
                      snapshot.hosts[status.host] == nil {
                failed[name] = status.host
            }
        }
        return failed
    }

    /// Restarts a pending HA VM on the best host with room (cold, from its shared disks):
    /// one txn makes that host its owner under the host's lease, assigns it there and says
    /// why; the host starts it when it sees the owner key. No room: it stays pending.
    private func place(_ entry: ClusterRegistry.Entry, in snapshot: inout ClusterRegistry.Snapshot, _ leadership: EtcdLeadership) async throws {
        let definition = entry.record.definition
        let from = entry.status?.host ?? entry.record.host
        // A failed host is not registered, so not among the candidates; a fenced one that
        // registered again may take its VM back.
        let candidates = snapshot.placement(for: definition)
        guard let target = candidates.first(where: \.fits)?.host else {
            let reason = "failover from \(from): no host has room for \(definition.memory >> 20) MiB and \(definition.cpus) vCPUs"
                + (candidates.isEmpty ? " (no host is registered and not draining)" : "")
            guard pendingReasons[definition.name] != reason else { return }
            let status = ClusterVMStatus(host: from, state: .pending, reason: reason, at: ClusterTime.format(Date()))
            if try await registry.setStatus(definition.name, status, manager: leadership) {
                pendingReasons[definition.name] = reason
                logger.warning("cluster: VM \(definition.name) stays pending: \(reason)")
            }
            return
        }
        let reason = "failover from \(from)"
        guard try await registry.failOver(entry, to: target, reason: reason, manager: leadership) else { return }
        pendingReasons[definition.name] = nil
        snapshot.hosts[target.record.name]?.commit(definition)
        logger.info("cluster: VM \(definition.name) restarts on \(target.record.name) (\(reason))")
    }
}
