import Foundation
import Glibc
import VMMAPI

/// The destination side of a migration: a peer asks this host to run a VM, `vmm receive`
/// builds it from the stream, and the VM shows as `incoming` until it runs here — or
/// vanishes without trace if the migration fails.
extension VMManager {
    /// How long ended migrations stay answerable (the source asks after a lost link).
    static let endedMigrationMemory: TimeInterval = 600

    /// Checks that `request`'s VM can run here, prepares its disks, starts `vmm receive`
    /// and answers where the stream goes.
    func acceptMigration(_ request: MigrationRequest) async throws -> MigrationTicket {
        guard let peers else {
            throw APIError(code: .unavailable, message: "this daemon takes no migrations: start vmmd with --listen and --tls-*")
        }
        if drain != nil {
            throw APIError(code: .conflict, message: "this host is draining: it takes no VMs until `vmctl host undrain`")
        }
        var definition = request.definition
        let name = definition.name
        guard VMDefinition.isValidName(name) else { throw APIError.invalidName(name) }
        guard vms[name] == nil, busy[name] == nil else {
            throw APIError(code: .conflict, message: "a VM named \(name) exists on the destination: delete or rename it there first")
        }
        guard definition.restoreFrom == nil else {
            throw APIError(code: .invalidDefinition, message: "VM \(name) is a clone that never started: there is nothing to migrate")
        }
        try admit(definition, to: "take VM \(name)")
        let available = HostProbe.availableMemory
        guard definition.memory <= available else {
            throw APIError(
                code: .conflict,
                message: "VM \(name) needs \(definition.memory) bytes of memory; the destination has \(available) available")
        }
        pruneEndedMigrations()
        let id = UUID().uuidString.lowercased()
        let created: [String]
        (definition, created) = try await prepareDisks(definition, request)
        var record = IncomingMigrationRecord(id: id, definition: definition, createdDisks: created)
        do {
            try definition.validate()
            try checkDiskConflicts(definition)
            try checkTapConflicts(definition)
            // Checked again: the disks were made across an await.
            guard vms[name] == nil else { throw APIError(code: .conflict, message: "a VM named \(name) was created meanwhile") }
            try saving { try incomingStore.save(record) }
        } catch {
            Self.removeDisks(created)
            throw error
        }
        incoming[id] = record
        vms[name] = ManagedVM(definition: definition)
        vms[name]?.state = .incoming
        publish(name, .incoming, previous: nil, reason: "migration \(id) arriving")

        let directory = runtimeDirectory(name)
        do {
            try directory.prepare()
            let jail = try jailArguments(name)
            let process = try launcher.launch(
                try launcher.receiveArguments(for: definition, in: directory) + jail.arguments, in: directory, jailClaim: jail.claim)
            cgroups.place(process.pid, vm: name, logger: logger)
            if let problem = cgroups.limit(process.pid, vm: name, limits: definition.limits, guestMemory: definition.memory) {
                logger.warning("VM \(name): arriving without its limits: \(problem)")
            }
            var run = ManagedVM.Run(process: process, startedAt: Date())
            run.jailID = jail.claim?.id
            vms[name]?.run = run
            record.pid = process.pid
            incoming[id]?.pid = process.pid
            try? incomingStore.save(record)
            try watchOrKill(name, process)
            try await waitForIncomingSocket(name, directory, process)
        } catch {
            await abandonIncoming(id, reason: "\(error)")
            throw error
        }
        peers.tunnels.expect(id, socketPath: directory.incomingSocket)
        logger.info("VM \(name): migration \(id) accepted, vmm receive pid \(record.pid ?? 0)")
        Task { await self.watchIncoming(id) }
        return MigrationTicket(id: id, port: peers.migrationPort)
    }

    /// `GET /v1/migrations/{id}`; a migration still incoming is checked with its `vmm` first.
    func incomingMigration(_ id: String) async throws -> IncomingMigration {
        guard var record = incoming[id] else { throw Self.unknownMigration(id) }
        if record.phase == .incoming {
            let control = ControlChannel(socketPath: runtimeDirectory(record.definition.name).controlSocket, timeout: 2)
            if let status = try? await control.migrationStatus() {
                if status.state == "running" || status.state == "paused" {
                    completeIncoming(id)
                } else {
                    var report = record.report
                    report.bytesReceived = status.migration?.bytesReceived
                    return report
                }
            }
            record = incoming[id] ?? record
        }
        return record.report
    }

    /// `DELETE /v1/migrations/{id}`: stops `vmm receive` and removes everything the
    /// migration made here. A migration whose guest runs here already is a 409.
    func cancelIncoming(_ id: String) async throws {
        guard let record = incoming[id] else { throw Self.unknownMigration(id) }
        switch record.phase {
        case .failed: return
        case .running:
            throw APIError(
                code: .conflict, message: "migration \(id) completed: VM \(record.definition.name) runs here now")
        case .incoming:
            _ = try? await incomingMigration(id)
            guard incoming[id]?.phase == .incoming else { return try await cancelIncoming(id) }
            await abandonIncoming(id, reason: "cancelled by the source")
        }
    }

    /// Kills the migration's `vmm receive` (if any) and waits for `incomingEnded` to clean up.
    func abandonIncoming(_ id: String, reason: String) async {
        guard let record = incoming[id], record.phase == .incoming else { return }
        incoming[id]?.message = reason
        let name = record.definition.name
        if let run = vms[name]?.run, vms[name]?.state == .incoming {
            vms[name]?.run?.endRequested = true
            run.process.signal(SIGKILL)
            _ = await run.exited.wait(seconds: Self.forcedStopTimeout)
        }
        // No process (it never started, or is gone): clean up here.
        if incoming[id]?.phase == .incoming { finishFailedIncoming(id, message: reason) }
    }

    /// `vmm receive` for VM `name` ended (called from `processEnded`).
    func incomingEnded(_ name: String, _ summary: String) {
        guard let id = incoming.first(where: { $0.value.definition.name == name && $0.value.phase == .incoming })?.key else {
            return
        }
        finishFailedIncoming(id, message: incoming[id]?.message ?? summary)
    }

    /// The guest runs here: the definition is stored, the VM is an ordinary running VM.
    func completeIncoming(_ id: String) {
        guard let record = incoming[id], record.phase == .incoming, vms[record.definition.name]?.state == .incoming else { return }
        let name = record.definition.name
        do {
            try saving { try store.save(record.definition) }
        } catch {
            // The VM runs here; without its definition on disk a restarted daemon would
            // not know it. Logged: there is no one else to tell.
            logger.error("VM \(name) arrived but its definition could not be stored: \(error)")
        }
        incomingStore.remove(id)
        peers?.tunnels.forget(id)
        // Its disks here (if it had lent them) are its own again.
        unlink(Self.lentMarker(configuration.disksDirectory, name))
        incoming[id]?.phase = .running
        incoming[id]?.ended = Date()
        vms[name]?.console.record(from: runtimeDirectory(name).consoleSocket, monitor: monitor)
        transition(name, to: .running, reason: "migrated in (migration \(id))")
    }

    /// Removes a failed incoming migration's VM, disks, runtime folder and record.
    private func finishFailedIncoming(_ id: String, message: String) {
        guard let record = incoming[id] else { return }
        let name = record.definition.name
        peers?.tunnels.forget(id)
        if vms[name]?.state == .incoming {
            vms[name] = nil
            runtimeDirectory(name).remove()
            // The snapshot folder its jail was given, empty (a VM named so had none here).
            rmdir("\(configuration.snapshotsDirectory)/\(name)")
            cgroups.release(vm: name, logger: logger)
            events.publish(VMEvent(
                time: Date().timeIntervalSince1970, vm: name, state: .stopped, previous: .incoming,
                reason: "migration \(id) failed: \(message)"))
        }
        removeCreatedDisks(record)
        incomingStore.remove(id)
        incoming[id]?.phase = .failed
        incoming[id]?.message = message
        incoming[id]?.ended = Date()
        logger.info("VM \(name): migration \(id) failed, nothing kept: \(message)")
    }

    /// Polls an incoming VM's `vmm` until its guest runs (or the migration ends otherwise).
    private func watchIncoming(_ id: String) async {
        while incoming[id]?.phase == .incoming {
            try? await Task.sleep(for: .milliseconds(100))
            guard let record = incoming[id], record.phase == .incoming else { return }
            let control = ControlChannel(socketPath: runtimeDirectory(record.definition.name).controlSocket, timeout: 2)
            if let status = try? await control.migrationStatus(), status.state == "running" || status.state == "paused" {
                completeIncoming(id)
            }
        }
    }

    /// Waits until `vmm receive` listens (or ends: its exit record says why it refused).
    private func waitForIncomingSocket(_ name: String, _ directory: RuntimeDirectory, _ process: ProcessHandle) async throws {
        let deadline = ContinuousClock.now + .seconds(Self.startTimeout)
        while ContinuousClock.now < deadline {
            if access(directory.incomingSocket, F_OK) == 0 { return }
            if process.hasExited {
                let record = directory.readExitRecord()
                let code: APIError.Code = record?.status == 2 ? .invalidDefinition : .internalError
                throw APIError(code: code, message: "vmm receive for \(name) ended: \(record?.summary ?? "no exit file")")
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
        throw APIError.internalError("vmm receive for \(name) did not listen within \(Int(Self.startTimeout)) s")
    }

    /// The definition as it runs here, and the disk images made for it: with copy-storage,
    /// each writable disk is created sparse at its path if that is free (its folder exists,
    /// no file there), else under `<state>/disks/<name>/`.
    private func prepareDisks(_ definition: VMDefinition, _ request: MigrationRequest) async throws -> (VMDefinition, [String]) {
        guard request.copyStorage else { return (definition, []) }
        let sizes = request.diskSizes ?? []
        guard sizes.count == definition.disks.count else {
            throw APIError(
                code: .badRequest, message: "copyStorage needs diskSizes: one size per disk (\(definition.disks.count))")
        }
        var result = definition
        var plans: [(path: String, size: UInt64)] = []
        for (index, disk) in definition.disks.enumerated() where !disk.readOnly {
            let folder = (disk.path as NSString).deletingLastPathComponent
            var info = stat()
            let free = disk.path.hasPrefix("/") && lstat(disk.path, &info) != 0 && errno == ENOENT
                && stat(folder, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
            let path = free ? disk.path : "\(configuration.disksDirectory)/\(definition.name)/disk\(index).img"
            result.disks[index].path = path
            plans.append((path, sizes[index]))
        }
        let folder = "\(configuration.disksDirectory)/\(definition.name)"
        do {
            try await BlockingThread.run("vmm-migration-disks") { [plans] in
                var made: [String] = []
                do {
                    for plan in plans {
                        if plan.path.hasPrefix(folder + "/") {
                            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                        }
                        try DiskCopier.createSparse(plan.path, size: Int64(plan.size))
                        made.append(plan.path)
                    }
                } catch {
                    Self.removeDisks(made)
                    throw error
                }
            }
        } catch {
            throw APIError.internalError("cannot create the disks of VM \(definition.name) for the migration: \(error)")
        }
        return (result, plans.map(\.path))
    }

    nonisolated static func removeDisks(_ paths: [String]) {
        for path in paths { unlink(path) }
    }

    /// The images made for `record`, and their folder under `<state>/disks/` once empty
    /// (never the folder's other files: a clone's disks may live there).
    private func removeCreatedDisks(_ record: IncomingMigrationRecord) {
        Self.removeDisks(record.createdDisks)
        rmdir("\(configuration.disksDirectory)/\(record.definition.name)")
    }

    private func pruneEndedMigrations() {
        let now = Date()
        incoming = incoming.filter { $0.value.ended.map { now.timeIntervalSince($0) < Self.endedMigrationMemory } ?? true }
    }

    static func unknownMigration(_ id: String) -> APIError {
        APIError(code: .notFound, message: "no migration \(id) on this host (a restarted daemon forgets the ones that failed)")
    }

    /// At start: what a daemon that died during incoming migrations left. A `vmm` whose
    /// guest runs by now keeps its VM (its definition is stored and it is adopted); any
    /// other is killed, and the disks made for it are removed.
    func recoverIncoming() async {
        for record in incomingStore.loadAll() {
            let name = record.definition.name
            let directory = runtimeDirectory(name)
            if let pid = record.pid, let pidfd = Linux.pidfdOpen(pid) {
                let process = ProcessHandle(pid: pid, pidfd: pidfd, isChild: false)
                if !process.hasExited, directory.isServed(by: pid) {
                    let status = try? await ControlChannel(socketPath: directory.controlSocket, timeout: 2).migrationStatus()
                    if let status, status.state == "running" || status.state == "paused" {
                        try? store.save(record.definition)
                        incomingStore.remove(record.id)
                        logger.info("VM \(name): migration \(record.id) completed while vmmd was away; adopting it")
                        continue
                    }
                    process.signal(SIGKILL)
                    _ = Linux.hasExited(pidfd: pidfd, waitingMilliseconds: 5000)
                }
            }
            removeCreatedDisks(record)
            directory.remove()
            incomingStore.remove(record.id)
            logger.info("VM \(name): removed what the unfinished migration \(record.id) left")
        }
    }
}
