import Foundation
import Logging
import NIOCore
import VMMAPI

/// The daemon's one internal API: every front end (REST today) calls these methods, and
/// they mean the same thing to each. Owns the registry of VMs and their state machines.
public actor VMManager {
    let configuration: DaemonConfiguration
    let logger: Logger
    let store: DefinitionStore
    let snapshots: SnapshotStore
    let incomingStore: IncomingMigrationStore
    let launcher: VMMLauncher
    let cgroups: CgroupPlacement
    let events: EventHub
    /// Watches every VM's `vmm` (its pidfd and console socket) from one thread.
    let monitor = DescriptorMonitor()
    var vms: [String: ManagedVM] = [:]
    /// What is under way for a VM name across awaits (a snapshot, a restore, a clone being
    /// made under that name), so a second such request is a 409, not a race.
    var busy: [String: String] = [:]
    /// The folder a VM's `vmm` is writing a snapshot into, while it does.
    var snapshotsBeingWritten: [String: String] = [:]
    /// Set once the daemon listens for other daemons (TLS); migrations need it.
    var peers: PeerNetwork?
    /// The migration port's listening channel, while peers are enabled.
    var migrationListener: (any Channel)?
    /// Migrations into this host by id, under way or recently ended.
    var incoming: [String: IncomingMigrationRecord] = [:]
    /// Migrations away from this host, by VM name, while they run.
    var outgoing: [String: OutgoingMigration] = [:]
    /// VMs that migrated away recently: where they went and their last console output.
    var departed: [String: Departure] = [:]
    /// The drain under way or done, while the host is in drain mode.
    var drain: HostDrainReport? {
        didSet {
            if (drain == nil) != (oldValue == nil) { announceMode() }
        }
    }
    /// This host's membership in the cluster (`vmmd --cluster`); nil on a single host.
    var cluster: ClusterMembership?
    /// Writes to etcd about this host's VMs, in order, and the task making them.
    var pendingClusterWrites: [ClusterWrite] = []
    var clusterWriter: Task<Void, Never>?
    /// Fires when the current writer has made every queued write.
    var clusterWritesDone: ExitSignal?
    /// Whether the autostart VMs were started (in a cluster: after the first reconcile).
    var autostarted = false

    public init(configuration: DaemonConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        store = try DefinitionStore(directory: configuration.definitionsDirectory)
        snapshots = try SnapshotStore(directory: configuration.snapshotsDirectory)
        incomingStore = try IncomingMigrationStore(directory: configuration.migrationsDirectory)
        launcher = VMMLauncher(executable: configuration.vmmPath)
        events = EventHub(host: configuration.cluster?.hostName)
        cgroups = CgroupPlacement.setUp(instance: configuration.runtimeDirectory, logger: logger)
        try FileManager.default.createDirectory(atPath: configuration.vmsRuntimeDirectory, withIntermediateDirectories: true)
    }

    // MARK: Registry

    func list() -> VMList {
        VMList(vms: vms.keys.sorted().map { withOperation($0, vms[$0]!.info) })
    }

    func info(_ name: String) throws -> VMInfo {
        withOperation(name, try lookup(name).info)
    }

    /// Adds what is under way for VM `name`, with the bytes a snapshot has written so far.
    private func withOperation(_ name: String, _ info: VMInfo) -> VMInfo {
        var info = info
        info.host = clusterHostName
        guard let description = busy[name] else { return info }
        info.operation = VMOperation(
            description: description, bytesWritten: snapshotsBeingWritten[name].map(SnapshotStore.diskUsage),
            migration: outgoing[name]?.progress)
        return info
    }

    func create(_ requested: VMDefinition) throws -> VMInfo {
        guard VMDefinition.isValidName(requested.name) else { throw APIError.invalidName(requested.name) }
        guard vms[requested.name] == nil, busy[requested.name] == nil else {
            throw APIError(code: .conflict, message: "a VM named \(requested.name) exists")
        }
        try requested.validate()
        let definition = try requested.withMACAddresses()
        try checkDiskConflicts(definition)
        try checkTapConflicts(definition)
        try saving { try store.save(definition) }
        vms[definition.name] = ManagedVM(definition: definition)
        logger.info("created VM \(definition.name)")
        publish(definition.name, .stopped, previous: nil, reason: "created")
        return vms[definition.name]!.info
    }

    /// Changes a stopped VM's definition; a running VM takes a new balloon target only.
    func update(_ name: String, _ patch: VMDefinitionPatch) async throws -> VMInfo {
        let vm = try lookup(name)
        if vm.state.hasProcess, patch.changesOnlyBalloonTarget, let target = patch.balloon?.target {
            return try await setBalloonTarget(name, target)
        }
        if vm.state.hasProcess, Self.changesOnlyLimits(vm.definition, vm.definition.applying(patch)) {
            return try await applyLimits(name, vm.definition.applying(patch))
        }
        try VMAction.edit.check(vm.state, vm: name)
        try checkIdle(name)
        let patched = vm.definition.applying(patch)
        try patched.validate()
        let definition = try patched.withMACAddresses()
        try checkDiskConflicts(definition)
        try checkTapConflicts(definition)
        try saving { try store.save(definition) }
        vms[name]?.definition = definition
        clusterWrite(.definition(name))
        logger.info("updated VM \(name)")
        return vms[name]!.info
    }

    /// Deletes a VM's definition, its snapshots and the disk copies the daemon made for it
    /// (as a clone); with `force`, kills its process first.
    func delete(_ name: String, force: Bool) async throws {
        let vm = try lookup(name)
        try checkIdle(name)
        try checkNoCloneNeeds(name, snapshot: nil)
        if vm.state.hasProcess {
            guard force else { throw APIError.illegal("delete", name, in: vm.state) }
            _ = try await kill(name)
        }
        try VMAction.delete.check(try lookup(name).state, vm: name)
        try checkIdle(name)
        try await unregisterFromCluster(name)
        try saving { try store.remove(name) }
        vms[name] = nil
        do {
            try snapshots.removeAll(name)
            try removeDiskCopies(name)
        } catch {
            logger.error("VM \(name) deleted, but not all its files: \(error)")
        }
        runtimeDirectory(name).remove()
        cgroups.release(vm: name, logger: logger)
        logger.info("deleted VM \(name)")
    }

    // MARK: Helpers

    /// The VM named `name`; names are checked before they reach any path.
    func lookup(_ name: String) throws -> ManagedVM {
        guard VMDefinition.isValidName(name) else { throw APIError.invalidName(name) }
        guard let vm = vms[name] else {
            if let departure = departed[name] { throw APIError(code: .notFound, message: "no VM named \(name): \(departure.summary)") }
            throw APIError.unknownVM(name)
        }
        return vm
    }

    func runtimeDirectory(_ name: String) -> RuntimeDirectory {
        RuntimeDirectory(path: "\(configuration.vmsRuntimeDirectory)/\(name)")
    }

    /// Moves a VM to `state`, logs it and tells event subscribers.
    func transition(_ name: String, to state: VMState, reason: String? = nil) {
        guard let previous = vms[name]?.state, previous != state else { return }
        vms[name]?.state = state
        logger.info("VM \(name): \(previous.rawValue) → \(state.rawValue)\(reason.map { " (\($0))" } ?? "")")
        publish(name, state, previous: previous, reason: reason)
        if previous == .incoming { clusterWrite(.arrived(name)) }
        clusterWrite(.status(name, state, reason: reason))
    }

    func publish(_ name: String, _ state: VMState, previous: VMState?, reason: String?) {
        events.publish(VMEvent(time: Date().timeIntervalSince1970, vm: name, state: state, previous: previous, reason: reason))
    }

    /// Tells event subscribers that `event` happened to VM `name` (in its current state).
    func publish(
        _ event: VMEvent.Kind, _ name: String, snapshot: String?, source: String? = nil, peer: String? = nil, reason: String,
        state: VMState? = nil
    ) {
        guard let state = state ?? vms[name]?.state else { return }
        events.publish(VMEvent(
            time: Date().timeIntervalSince1970, vm: name, state: state, reason: reason, event: event, snapshot: snapshot,
            source: source, peer: peer))
    }

    func saving(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as FileError {
            throw APIError.internalError(error.description)
        }
    }
}
