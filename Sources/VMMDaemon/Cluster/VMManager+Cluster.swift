import Etcd
import Foundation
import NIOHTTP1
import VMMAPI

/// Cluster mode's VM registry (docs/cluster.md): definitions are cluster-wide in etcd,
/// a running VM is owned by its host, and its state is published for every host to list.
extension VMManager {
    /// This host's name in the cluster; nil on a single host.
    var clusterHostName: String? { configuration.cluster?.hostName }

    /// The cluster's registry; nil on a single host.
    var registry: ClusterRegistry? { cluster?.registry }

    /// `error` as the API's 503 for `action` when etcd does not answer.
    static func etcdUnavailable(_ action: String, _ error: any Error) -> APIError {
        if let error = error as? APIError { return error }
        return APIError(code: .unavailable, message: "cannot \(action): the cluster's etcd does not answer (\(error)); try again")
    }

    // MARK: Listing

    /// `GET /v1/vms`: on a single host this host's VMs; in a cluster every VM of the
    /// cluster with its host (this host's own VMs as it knows them, the others as etcd has
    /// them; one etcd assigns here that this host does not know yet is defined here
    /// first). Without etcd, this host's VMs only.
    func listing() async -> VMList {
        guard let registry, let me = clusterHostName else { return list() }
        let snapshot: ClusterRegistry.Snapshot
        do {
            snapshot = try await registry.snapshot()
        } catch {
            logger.warning("cluster: listing this host's VMs only: \(error)")
            return list()
        }
        for (name, entry) in snapshot.vms.sorted(by: { $0.key < $1.key }) where entry.host == me && vms[name] == nil {
            adoptAssigned(entry.record.definition)
        }
        let local = list()
        var entries = Dictionary(uniqueKeysWithValues: local.vms.map { ($0.definition.name, $0) })
        for (name, entry) in snapshot.vms where entries[name] == nil && entry.host != me {
            entries[name] = Self.remoteInfo(entry)
        }
        return VMList(vms: entries.keys.sorted().map { entries[$0]! })
    }

    /// A VM of another host as etcd has it. A published state with a process but no owner
    /// (its host left) is reported `crashed`.
    static func remoteInfo(_ entry: ClusterRegistry.Entry) -> VMInfo {
        var state = entry.status?.state ?? .stopped
        var lastExit: String?
        if entry.owner == nil, state.hasProcess {
            state = .crashed
            lastExit = "its host \(entry.status?.host ?? entry.record.host) left the cluster"
        }
        return VMInfo(definition: entry.record.definition, state: state, lastExit: lastExit, host: entry.host)
    }

    // MARK: Creating

    /// `POST /v1/vms`: on a single host, `create`. In a cluster: refused when the name is
    /// taken anywhere; defined here when this host is the one asked for (`host`) or the
    /// placement's pick, else sent to that host.
    func create(_ request: VMCreateRequest) async throws -> VMInfo {
        guard let registry, let me = clusterHostName, let peers else {
            guard request.host == nil else {
                throw APIError(code: .badRequest, message: "host places a VM in a cluster; this vmmd is not in one (vmmd --cluster)")
            }
            return try create(request.definition)
        }
        let name = request.definition.name
        guard VMDefinition.isValidName(name) else { throw APIError.invalidName(name) }
        let snapshot: ClusterRegistry.Snapshot
        do {
            snapshot = try await registry.snapshot()
        } catch {
            throw Self.etcdUnavailable("create VM \(name)", error)
        }
        if let existing = snapshot.vms[name] { throw Self.nameTaken(name, on: existing.host) }
        let target = try Self.placementTarget(request, in: snapshot)
        if target.record.name == me { return try await createHere(request.definition, registry: registry) }
        let address = try Self.address(of: target.record)
        do {
            return try await peers.call(address, .POST, "/v1/vms", body: VMCreateRequest(request.definition, host: target.record.name))
        } catch let error as PeerError {
            throw Self.peerFailure(error, host: target.record.name, action: "create VM \(name)")
        }
    }

    /// The host a new VM goes to: the one asked for, or placement's best.
    private static func placementTarget(_ request: VMCreateRequest, in snapshot: ClusterRegistry.Snapshot) throws -> ClusterRegistry.Host {
        if let name = request.host {
            guard let host = snapshot.hosts[name] else {
                throw APIError(
                    code: .invalidDefinition,
                    message: "host \(name) is not in the cluster; registered hosts: "
                        + "\(snapshot.hosts.keys.sorted().joined(separator: ", ")) (vmctl host lists them)")
            }
            guard host.record.mode != "draining" else {
                throw APIError(code: .conflict, message: "host \(name) is draining: it takes no VMs until `vmctl host undrain` there")
            }
            return host
        }
        guard let best = snapshot.placement(for: request.definition).first else {
            throw APIError(code: .unavailable, message: "no host can take VM \(request.definition.name): every registered host is draining")
        }
        return best.host
    }

    /// Defines the VM on this host: checked as on a single host, then made cluster-wide by
    /// etcd's create txn (which refuses a name another host took meanwhile), then stored.
    private func createHere(_ requested: VMDefinition, registry: ClusterRegistry) async throws -> VMInfo {
        let name = requested.name
        guard vms[name] == nil, busy[name] == nil else { throw Self.nameTaken(name, on: registry.hostName) }
        try requested.validate()
        let definition = try requested.withMACAddresses()
        try checkDiskConflicts(definition)
        try checkTapConflicts(definition)
        busy[name] = "being created"
        defer { busy[name] = nil }
        let revision = try await defineInCluster(definition)
        do {
            try saving { try store.save(definition) }
        } catch {
            // Nothing half-created: the cluster forgets it too.
            await forgetInCluster(name, revision: revision)
            throw error
        }
        vms[name] = ManagedVM(definition: definition)
        logger.info("created VM \(name) (cluster-wide)")
        publish(name, .stopped, previous: nil, reason: "created")
        return try info(name)
    }

    /// In a cluster, defines a VM made on this host in etcd (the create txn), before it is
    /// stored here: a 409 when another host has the name. Returns the record's revision;
    /// nil outside a cluster.
    func defineInCluster(_ definition: VMDefinition) async throws -> Int64? {
        guard let registry else { return nil }
        do {
            switch try await registry.define(definition, on: registry.hostName) {
            case .defined(let revision): return revision
            case .taken(let existing): throw Self.nameTaken(definition.name, on: existing.host)
            }
        } catch {
            throw Self.etcdUnavailable("define VM \(definition.name)", error)
        }
    }

    /// Undoes `defineInCluster` for a VM that could not be stored here after all.
    func forgetInCluster(_ name: String, revision: Int64?) async {
        guard let registry, let revision else { return }
        _ = try? await registry.remove(name, revision: revision)
    }

    static func nameTaken(_ name: String, on host: String) -> APIError {
        APIError(code: .conflict, message: "a VM named \(name) exists in the cluster (on host \(host)): choose another name")
    }

    // MARK: Forwarding

    /// Where requests about a VM are answered.
    enum VMLocation: Sendable {
        /// Here: a single host, a VM here, or one etcd does not know (a 404 here).
        case here
        /// On `host`, whose API is at `address`.
        case peer(HostAndPort, host: String)
        /// On a host that is not registered now (down or partitioned): etcd's view.
        case away(ClusterRegistry.Entry)
    }

    /// Where requests about VM `name` go: the host that runs it or has it assigned, as
    /// etcd says. A VM etcd assigns to this host that this host does not know yet (drained
    /// here, or defined while this daemon was away) is loaded.
    func locate(_ name: String) async throws -> VMLocation {
        guard vms[name] == nil, VMDefinition.isValidName(name), let registry, let me = clusterHostName else { return .here }
        do {
            guard let entry = try await registry.vm(name) else { return .here }
            if entry.host == me {
                adoptAssigned(entry.record.definition)
                return .here
            }
            guard let host = try await registry.etcd.get(ClusterMembership.hostsPrefix + entry.host)?.decode(ClusterHost.self) else {
                return .away(entry)
            }
            return .peer(try Self.address(of: host), host: host.name)
        } catch let error as APIError {
            throw error
        } catch {
            throw Self.etcdUnavailable("find VM \(name) in the cluster", error)
        }
    }

    /// Sends a request as it came to `host`'s API (mutual TLS, this host's identity) and
    /// returns its answer as it is.
    func forward(
        _ method: HTTPMethod, _ path: String, body: [UInt8]?, to address: HostAndPort, host: String
    ) async throws -> HTTPClient.Response {
        guard let peers else { throw APIError.internalError("a cluster host without peers") }
        do {
            return try await peers.exchange(address, method, path, body)
        } catch {
            throw APIError(code: .unavailable, message: "cannot reach host \(host) (\(address)), which has the VM: \(error)")
        }
    }

    /// Loads a definition etcd assigns to this host, when no VM here has the name.
    func adoptAssigned(_ definition: VMDefinition) {
        guard vms[definition.name] == nil, busy[definition.name] == nil else { return }
        do {
            try store.save(definition)
        } catch {
            return logger.error("cluster: cannot store VM \(definition.name), assigned here: \(error)")
        }
        vms[definition.name] = ManagedVM(definition: definition)
        departed[definition.name] = nil
        logger.info("cluster: VM \(definition.name) is assigned here; defined it")
        publish(definition.name, .stopped, previous: nil, reason: "assigned here")
    }

    /// In a cluster, attaches to the console of VM `name` on the host that has it (`uri`
    /// as it came, switched to `protocol`); nil when the VM is here (or outside a cluster).
    func attachElsewhere(_ name: String, _ uri: String, protocol token: String) async throws -> Int32? {
        let (address, host): (HostAndPort, String)
        switch try await locate(name) {
        case .here: return nil
        case .away(let entry):
            throw APIError(code: .unavailable, message: "VM \(name) is on host \(entry.host), which is not in the cluster now (down or partitioned)")
        case .peer(let peer, let peerHost): (address, host) = (peer, peerHost)
        }
        guard let upgrade = peers?.upgrade else { throw APIError.internalError("a cluster host without peers") }
        do {
            return try await upgrade(address, uri, token)
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError(code: .unavailable, message: "cannot reach host \(host) (\(address)), which has the VM: \(error)")
        }
    }

    static func address(of host: ClusterHost) throws -> HostAndPort {
        do {
            return try HostAndPort(parsing: host.address.replacingOccurrences(of: "https://", with: ""))
        } catch {
            throw APIError(code: .internalError, message: "host \(host.name)'s record has a bad address \(host.address): \(error)")
        }
    }

    static func peerFailure(_ error: PeerError, host: String, action: String) -> APIError {
        if case .refused(_, _, let refusal as APIError) = error { return refusal }
        return APIError(code: .unavailable, message: "cannot \(action) on host \(host): \(error)")
    }
}
