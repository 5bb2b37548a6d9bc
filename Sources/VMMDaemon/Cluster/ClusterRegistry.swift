import Etcd
import Foundation
import VMMAPI

/// Every read and write of the cluster's VM registry in etcd (docs/cluster.md, sections
/// 1-2): definitions (`vmm/vms/`), ownership (`vmm/owners/`, bound to the owner's lease)
/// and published state (`vmm/status/`). Writes that must not race are transactions on the
/// revisions the caller read; each function says what it compares. A manager (failover)
/// reuses these with its own host name.
struct ClusterRegistry: Sendable {
    static let vmsPrefix = "vmm/vms/"
    static let ownersPrefix = "vmm/owners/"
    static let statusPrefix = "vmm/status/"

    let etcd: EtcdClient
    /// The host this registry writes for (owner and status keys name it).
    let hostName: String

    /// One VM as etcd has it.
    struct Entry: Sendable {
        var record: ClusterVMRecord
        /// `mod_revision` of `vmm/vms/NAME`: what changes of the record compare.
        var revision: Int64
        var owner: ClusterOwner?
        /// The lease `vmm/owners/NAME` is bound to (0: no owner).
        var ownerLease: Int64
        /// `mod_revision` of `vmm/owners/NAME` (0: no owner).
        var ownerRevision: Int64
        var status: ClusterVMStatus?

        /// Where the VM is: its owner while it runs, else the host it is assigned to.
        var host: String { owner?.host ?? record.host }
    }

    /// A registered host: its record and what a placement txn compares.
    struct Host: Sendable {
        var record: ClusterHost
        var lease: Int64
        /// `create_revision` of `vmm/hosts/NAME`: a new registration (lease) changes it.
        var createRevision: Int64
    }

    /// The whole registry at one revision.
    struct Snapshot: Sendable {
        var vms: [String: Entry]
        var hosts: [String: Host]
        var revision: Int64
    }

    static func vmKey(_ name: String) -> String { vmsPrefix + name }
    static func ownerKey(_ name: String) -> String { ownersPrefix + name }
    static func statusKey(_ name: String) -> String { statusPrefix + name }

    // MARK: Reads

    /// Every VM and host, read in one transaction (so at one revision).
    func snapshot(timeout: Duration? = nil) async throws -> Snapshot {
        let result = try await etcd.txn(compare: [], success: [
            .get(Self.vmsPrefix, prefix: true), .get(Self.ownersPrefix, prefix: true), .get(Self.statusPrefix, prefix: true),
            .get(ClusterMembership.hostsPrefix, prefix: true),
        ])
        guard result.results.count == 4 else { throw EtcdError.malformedResponse("a txn of 4 reads answered \(result.results.count)") }
        let owners = Dictionary(result.results[1].map { (String($0.key.dropFirst(Self.ownersPrefix.count)), $0) }) { $1 }
        let statuses = Dictionary(result.results[2].map { (String($0.key.dropFirst(Self.statusPrefix.count)), $0) }) { $1 }
        var vms: [String: Entry] = [:]
        for keyValue in result.results[0] {
            let name = String(keyValue.key.dropFirst(Self.vmsPrefix.count))
            guard let entry = try? Self.entry(keyValue, owner: owners[name], status: statuses[name]) else { continue }
            vms[name] = entry
        }
        var hosts: [String: Host] = [:]
        for keyValue in result.results[3] {
            guard let record = try? keyValue.decode(ClusterHost.self) else { continue }
            hosts[record.name] = Host(record: record, lease: keyValue.lease, createRevision: keyValue.createRevision)
        }
        return Snapshot(vms: vms, hosts: hosts, revision: result.revision)
    }

    /// VM `name` as etcd has it now, or nil.
    func vm(_ name: String) async throws -> Entry? {
        let result = try await etcd.txn(compare: [], success: [
            .get(Self.vmKey(name)), .get(Self.ownerKey(name)), .get(Self.statusKey(name)),
        ])
        guard result.results.count == 3, let record = result.results[0].first else { return nil }
        return try Self.entry(record, owner: result.results[1].first, status: result.results[2].first)
    }

    private static func entry(_ record: EtcdKeyValue, owner: EtcdKeyValue?, status: EtcdKeyValue?) throws -> Entry {
        Entry(
            record: try record.decode(ClusterVMRecord.self), revision: record.modRevision,
            owner: try owner?.decode(ClusterOwner.self), ownerLease: owner?.lease ?? 0, ownerRevision: owner?.modRevision ?? 0,
            status: try? status?.decode(ClusterVMStatus.self))
    }

    // MARK: Definitions

    /// What `define` did.
    enum Definition: Sendable {
        /// Defined, at this revision.
        case defined(revision: Int64)
        /// The name is taken by this record.
        case taken(ClusterVMRecord)
    }

    /// Defines a VM on `host`: `if create_revision(vms/NAME) == 0 then put(vms/NAME),
    /// put(status/NAME: stopped)`.
    func define(_ definition: VMDefinition, on host: String) async throws -> Definition {
        let key = Self.vmKey(definition.name)
        let status = ClusterVMStatus(host: host, state: .stopped, reason: "created", at: ClusterTime.format(Date()))
        let result = try await etcd.txn(
            compare: [.absent(key)],
            success: [.put(key, value: try Self.json(ClusterVMRecord(definition: definition, host: host))),
                      .put(Self.statusKey(definition.name), value: try Self.json(status))],
            failure: [.get(key)])
        guard !result.succeeded, let existing = result.results.first?.first else { return .defined(revision: result.revision) }
        return .taken(try existing.decode(ClusterVMRecord.self))
    }

    /// Replaces the record of a VM: `if mod_revision(vms/NAME) == revision then put`.
    /// Returns the new revision, or nil when the record changed since it was read.
    func update(_ record: ClusterVMRecord, revision: Int64) async throws -> Int64? {
        let key = Self.vmKey(record.definition.name)
        let result = try await etcd.txn(compare: [.unchanged(key, since: revision)], success: [.put(key, value: try Self.json(record))])
        return result.succeeded ? result.revision : nil
    }

    /// Assigns a VM that runs nowhere to `host` (a stopped VM drained there, or taken back by
    /// its host): `if mod_revision(vms/NAME) == revision and create_revision(owners/NAME) == 0
    /// then put(vms/NAME with host)`. Returns the new revision, or nil when it raced.
    func assign(_ entry: Entry, to host: String) async throws -> Int64? {
        var record = entry.record
        record.host = host
        let name = record.definition.name
        let result = try await etcd.txn(
            compare: [.unchanged(Self.vmKey(name), since: entry.revision), .absent(Self.ownerKey(name))],
            success: [.put(Self.vmKey(name), value: try Self.json(record))])
        return result.succeeded ? result.revision : nil
    }

    /// Removes a VM that runs nowhere: `if mod_revision(vms/NAME) == revision and
    /// create_revision(owners/NAME) == 0 then delete(vms/NAME), delete(status/NAME)`.
    /// False when it changed or is owned.
    func remove(_ name: String, revision: Int64) async throws -> Bool {
        try await etcd.txn(
            compare: [.unchanged(Self.vmKey(name), since: revision), .absent(Self.ownerKey(name))],
            success: [.delete(Self.vmKey(name)), .delete(Self.statusKey(name))]
        ).succeeded
    }

    // MARK: Ownership

    /// What `claim` found.
    enum Claim: Sendable, Equatable {
        /// This host owns the VM now, under the lease given.
        case claimed
        /// The VM is not in the registry.
        case unknown
        /// The VM is assigned to another host.
        case assigned(to: String)
        /// Another host owns it (runs it).
        case owned(by: String)
    }

    /// Makes this host the VM's owner under `lease`, for a VM assigned to this host:
    /// `if mod_revision(vms/NAME) == R and create_revision(owners/NAME) == 0 then
    /// put(owners/NAME, lease)`; an owner key of this host under an older lease (its
    /// previous daemon's) is taken over comparing its `mod_revision`. Repeats on a race.
    func claim(_ name: String, lease: Int64, reason: String) async throws -> Claim {
        for _ in 0..<5 {
            guard let entry = try await vm(name) else { return .unknown }
            if let owner = entry.owner {
                guard owner.host == hostName else { return .owned(by: owner.host) }
                if entry.ownerLease == lease { return .claimed }
            } else if entry.record.host != hostName {
                return .assigned(to: entry.record.host)
            }
            let ownerCompare = entry.owner == nil
                ? EtcdCompare.absent(Self.ownerKey(name)) : .unchanged(Self.ownerKey(name), since: entry.ownerRevision)
            let result = try await etcd.txn(
                compare: [.unchanged(Self.vmKey(name), since: entry.revision), ownerCompare],
                success: [.put(Self.ownerKey(name), value: try Self.json(ClusterOwner(host: hostName, reason: reason)), lease: lease)])
            if result.succeeded { return .claimed }
        }
        throw EtcdError.refused(code: 10, message: "the registry entry of VM \(name) kept changing while this host claimed it")
    }

    /// Moves a VM to this host and makes it its owner in one txn, for a VM that runs here
    /// now (arrived by migration, or found running after a rejoin): `if mod_revision(vms/NAME)
    /// == R and mod_revision(owners/NAME) == O (or create_revision 0 when absent) then
    /// put(vms/NAME with this host), put(owners/NAME, lease)`; repeats on a race.
    func take(_ definition: VMDefinition, lease: Int64, reason: String) async throws {
        let name = definition.name
        let record = try Self.json(ClusterVMRecord(definition: definition, host: hostName))
        let owner = try Self.json(ClusterOwner(host: hostName, reason: reason))
        for _ in 0..<5 {
            let entry = try await vm(name)
            let ownerCompare = (entry?.ownerRevision ?? 0) == 0
                ? EtcdCompare.absent(Self.ownerKey(name)) : .unchanged(Self.ownerKey(name), since: entry!.ownerRevision)
            let recordCompare = entry.map { EtcdCompare.unchanged(Self.vmKey(name), since: $0.revision) } ?? .absent(Self.vmKey(name))
            let result = try await etcd.txn(
                compare: [recordCompare, ownerCompare],
                success: [.put(Self.vmKey(name), value: record), .put(Self.ownerKey(name), value: owner, lease: lease)])
            if result.succeeded { return }
        }
        throw EtcdError.refused(code: 10, message: "the registry entry of VM \(name) kept changing while this host took it")
    }

    /// Ends this host's ownership of a VM that no longer runs here: `if lease(owners/NAME)
    /// == lease then delete(owners/NAME)`. False when another lease holds it (or none).
    @discardableResult
    func release(_ name: String, lease: Int64) async throws -> Bool {
        try await etcd.txn(
            compare: [EtcdCompare(Self.ownerKey(name), .lease(lease))], success: [.delete(Self.ownerKey(name))]
        ).succeeded
    }

    // MARK: Status

    /// Publishes the state of a VM this host has: `if create_revision(vms/NAME) != 0 then
    /// put(status/NAME)` (a deleted VM gets no status back).
    func publish(_ name: String, _ state: VMState, reason: String?) async throws {
        let status = ClusterVMStatus(host: hostName, state: state, reason: reason, at: ClusterTime.format(Date()))
        _ = try await etcd.txn(
            compare: [EtcdCompare(Self.vmKey(name), .createRevision(0), .notEqual)],
            success: [.put(Self.statusKey(name), value: try Self.json(status))])
    }

    static func json(_ value: some Encodable) throws -> [UInt8] {
        Array(try JSONEncoder().encode(value))
    }
}
