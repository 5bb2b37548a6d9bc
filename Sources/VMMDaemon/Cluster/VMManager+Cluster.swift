import Etcd
import Foundation
import NIOHTTP1
import VMMAPI

/// Cluster mode's VM registry (docs/cluster.md): definitions are cluster-wide in etcd,
/// a running VM is owned by its host, and its state is published for every host to list.
extension VMManager {
    /// One write to etcd about a VM of this host, made in order by one task.
    enum ClusterWrite: Sendable {
        case status(String, VMState, reason: String?)
        case release(String)
        /// A VM that arrived here (a migration): the registry moves it to this host.
        case arrived(String)
        /// A VM's definition changed here (PATCH).
        case definition(String)
    }

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

    // MARK: Ownership and state

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

    // MARK: Reconciling

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
        for (name, entry) in snapshot.vms where entry.owner?.host == me && entry.ownerLease != lease && vms[name]?.state.hasProcess != true {
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
