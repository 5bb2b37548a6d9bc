import Etcd
import Foundation
import Logging
import VMMAPI

/// This host in the cluster (docs/cluster.md, section 6): its record `vmm/hosts/NAME` in
/// etcd, bound to a lease it keeps alive, and registered again under a new lease when etcd
/// says the old one is gone (after a partition longer than the TTL). The lease is saved in
/// the state folder: a restarted daemon renews it rather than registering anew, so the
/// HA VMs it finds running keep their owner keys (and, restarted within the fence time,
/// run on). The manager election campaigns with this lease, and the fence deadline
/// counts from `keeper.lastRenewal`.
actor ClusterMembership {
    static let hostsPrefix = "vmm/hosts/"

    let configuration: ClusterConfiguration
    /// What is registered (its `mode` follows the host's drain mode).
    private(set) var record: ClusterHost
    let etcd: EtcdClient
    private let leaseFile: ClusterLeaseFile
    private let logger: Logger
    private var keeper: LeaseKeeper?
    private var registration: Task<Void, Never>?
    /// Why this host is not registered now, for `GET /v1/host`.
    private var problem: String?
    /// When this daemon renewed the lease its predecessor saved: the etcd revision from
    /// which keys under it are this daemon's (older ones its predecessor's). Nil after a
    /// fresh grant.
    private(set) var resumedAt: Int64?
    /// Called after every registration with the new lease (the VM registry reconciles).
    private var onRegistered: (@Sendable (Int64) async -> Void)?

    /// The VM registry, written as this host.
    nonisolated var registry: ClusterRegistry { ClusterRegistry(etcd: etcd, hostName: configuration.hostName) }

    /// This host's lease while it is registered: not once etcd said it is gone, nor once
    /// no renewal was confirmed for `fenceAfter` (this host fenced; section 4).
    var lease: Int64? {
        guard let keeper, !keeper.isLost, !hasFenced(keeper) else { return nil }
        return keeper.id
    }

    private var key: String { Self.hostsPrefix + record.name }

    init(configuration: ClusterConfiguration, record: ClusterHost, stateDirectory: String, logger: Logger) throws {
        self.configuration = configuration
        self.record = record
        leaseFile = ClusterLeaseFile(stateDirectory: stateDirectory)
        self.logger = logger
        etcd = try EtcdClient(urls: configuration.etcdURLs, tls: configuration.etcdTLS)
    }

    /// Registers this host and keeps it registered. Throws when another live host holds the
    /// name; when etcd does not answer, the daemon runs on (its VMs are not etcd's
    /// business) and registration goes on in the background.
    func join() async throws {
        do {
            try await register()
        } catch let error as ClusterMembershipError {
            throw error
        } catch {
            problem = "etcd does not answer: \(error)"
            logger.warning("cluster: cannot register \(record.name) yet (\(error)); trying again in the background")
        }
        registration = Task { await self.stayRegistered() }
    }

    /// Revokes the lease, so this host's record vanishes now rather than after the TTL.
    func leave() async {
        registration?.cancel()
        try? await keeper?.revoke()
        keeper = nil
        leaseFile.remove()
    }

    /// Runs `body` with the lease after each registration, and now if registered.
    func whenRegistered(_ body: @escaping @Sendable (Int64) async -> Void) async {
        onRegistered = body
        if let lease { await body(lease) }
    }

    /// Records `mode` (`normal` or `draining`) in this host's record.
    func setMode(_ mode: String) async {
        guard record.mode != mode else { return }
        record.mode = mode
        await rewrite()
        logger.info("cluster: \(record.name) is \(mode)")
    }

    /// Records what is promised to the VMs running here (placement reads it).
    func setCommitment(_ committed: HostCommitment) async {
        guard record.committed != committed else { return }
        record.committed = committed
        await rewrite()
    }

    /// Writes the record as it is now. Without a lease now, the next registration writes
    /// it. Calls may overlap (the actor lets them in at each await): each one writes until
    /// what etcd got is the latest record.
    private func rewrite() async {
        while let keeper, !keeper.isLost {
            let written = record
            do {
                let result = try await write(written, ifBoundTo: keeper.id)
                if !result.succeeded { return }  // no longer ours: the next registration writes the mode
            } catch {
                logger.warning("cluster: cannot update the record of \(written.name) (\(error)); the next registration will")
                return
            }
            if record == written { return }
        }
    }

    /// Puts `record` as this host's record under `lease`, if the record is bound to it now.
    private func write(_ record: ClusterHost, ifBoundTo lease: Int64) async throws -> EtcdTxnResult {
        try await etcd.txn(
            compare: [EtcdCompare(key, .lease(lease))],
            success: [.put(key, value: Array(try JSONEncoder().encode(record)), lease: lease)])
    }

    /// `GET /v1/host`'s `cluster` object: the registered hosts as etcd has them now.
    func info() async -> ClusterInfo {
        let registered = keeper.map { !$0.isLost } ?? false
        do {
            // Short: `vmctl host` should not hang for long while etcd is away.
            let hosts = try await etcd.get(prefix: Self.hostsPrefix, timeout: .milliseconds(500)).keyValues.compactMap { keyValue -> ClusterHost? in
                do {
                    return try keyValue.decode(ClusterHost.self)
                } catch {
                    logger.warning("cluster: ignoring \(keyValue.key): \(error)")
                    return nil
                }
            }
            return ClusterInfo(host: record.name, registered: registered, hosts: hosts, problem: registered ? nil : problem)
        } catch {
            return ClusterInfo(host: record.name, registered: registered, hosts: nil, problem: "etcd does not answer: \(error)")
        }
    }

    /// The send time of the last renewal etcd confirmed for the lease this host holds now;
    /// nil while it holds none. HA VMs are fenced `fenceAfter` after it (section 4).
    var lastConfirmedRenewal: ContinuousClock.Instant? {
        guard let keeper, !keeper.isLost, !hasFenced(keeper) else { return nil }
        return keeper.lastRenewal
    }

    private func hasFenced(_ keeper: LeaseKeeper) -> Bool {
        ContinuousClock.now - keeper.lastRenewal >= configuration.fenceAfter
    }

    private func stayRegistered() async {
        while !Task.isCancelled {
            if let keeper {
                while !keeper.isLost, !hasFenced(keeper), !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(100))
                }
                guard !Task.isCancelled else { return }
                let lease = String(keeper.id, radix: 16)
                if keeper.isLost {
                    logger.warning("cluster: lease \(lease) of \(record.name) is gone; registering again")
                    problem = "the lease was lost; registering again"
                } else {
                    logger.warning("cluster: no renewal of lease \(lease) for \(configuration.fenceAfter): HA VMs here are fenced; revoking the lease, then registering again")
                    problem = "fenced: etcd did not renew the lease in time; registering again"
                    await revokeWhenEtcdAnswers(keeper)
                }
                self.keeper = nil
            }
            do {
                try await register()
            } catch {
                problem = "\(error)"
                logger.warning("cluster: cannot register \(record.name): \(error)")
                try? await Task.sleep(for: configuration.keepAliveInterval)
                continue
            }
            if let onRegistered, let lease { await onRegistered(lease) }
        }
    }

    /// Ends the old lease of a host that fenced: without a quorum etcd expires nothing, and
    /// a new etcd leader renews every lease, so it could outlive the outage with this host's
    /// owner keys while its HA VMs are already gone (docs/cluster.md section 4).
    private func revokeWhenEtcdAnswers(_ keeper: LeaseKeeper) async {
        keeper.stop()
        while !Task.isCancelled {
            do {
                try await keeper.revoke()
                leaseFile.remove()
                return
            } catch {
                try? await Task.sleep(for: configuration.keepAliveInterval)
            }
        }
    }

    /// Renews the lease this host's previous daemon saved, if its record is still bound to
    /// it; else grants a lease and creates the record under it, if no record exists. A
    /// record left by another daemon of this name lasts until its lease expires: wait that
    /// long (one TTL, and a little for etcd's expiry scan), then give up.
    private func register() async throws {
        if try await resumeSavedLease() { return }
        let lease = try await LeaseKeeper.grant(etcd, ttl: configuration.leaseTTL, interval: configuration.keepAliveInterval)
        let value = Array(try JSONEncoder().encode(record))
        let deadline = ContinuousClock.now + .seconds(configuration.leaseTTL) + .seconds(2)
        while true {
            let result: EtcdTxnResult
            do {
                result = try await etcd.txn(compare: [.absent(key)], success: [.put(key, value: value, lease: lease.id)], failure: [.get(key)])
            } catch {
                try? await lease.revoke()
                throw error
            }
            if result.succeeded {
                keeper = lease
                resumedAt = nil
                problem = nil
                do {
                    try leaseFile.save(ClusterLeaseFile.Saved(host: record.name, lease: lease.id))
                } catch {
                    logger.warning("cluster: cannot save the lease in \(leaseFile.path) (\(error)): a restarted vmmd will register anew and its HA VMs be fenced")
                }
                logger.info("cluster: registered \(record.name) at \(record.address) (lease \(String(lease.id, radix: 16)), TTL \(lease.ttl) s)")
                return
            }
            guard ContinuousClock.now < deadline else {
                try? await lease.revoke()
                let holder = result.results.first?.first
                throw ClusterMembershipError(name: record.name, holder: (try? holder?.decode(ClusterHost.self))?.address, lease: holder?.lease ?? 0)
            }
            try await Task.sleep(for: .milliseconds(250))
        }
    }
}

extension ClusterMembership {
    /// Takes over the saved lease when this host's record is still bound to it (the daemon
    /// restarted before the lease expired); rewrites the record (address, version and mode
    /// may have changed). False when there is nothing to resume: the saved lease is then
    /// forgotten.
    fileprivate func resumeSavedLease() async throws -> Bool {
        guard let saved = leaseFile.read() else { return false }
        guard saved.host == record.name,
              let resumed = try await LeaseKeeper.resume(etcd, id: saved.lease, interval: configuration.keepAliveInterval) else {
            leaseFile.remove()
            return false
        }
        let result: EtcdTxnResult
        do {
            result = try await write(record, ifBoundTo: saved.lease)
        } catch {
            resumed.stop()
            throw error
        }
        guard result.succeeded else {
            // The record is not bound to it (removed by hand?): end the lease and its owner
            // keys, so the manager can place those VMs, and register anew.
            try? await resumed.revoke()
            leaseFile.remove()
            return false
        }
        keeper = resumed
        resumedAt = result.revision
        problem = nil
        logger.info("cluster: registered \(record.name) at \(record.address) again under its saved lease \(String(saved.lease, radix: 16)) (renewed, TTL \(resumed.ttl) s)")
        return true
    }
}

/// Another live host holds this host's name in the cluster.
struct ClusterMembershipError: Error, CustomStringConvertible {
    var name: String
    var holder: String?
    var lease: Int64

    var description: String {
        "host name \(name) is registered in the cluster by a live host\(holder.map { " at \($0)" } ?? "") "
            + "(its lease \(String(lease, radix: 16)) is being renewed): give this host another --host-name, or stop that vmmd"
    }
}
