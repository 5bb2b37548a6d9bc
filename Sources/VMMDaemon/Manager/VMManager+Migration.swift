import Foundation
import Glibc
import VMMAPI

/// The source side of a migration: the destination daemon is asked to take the VM, the
/// `vmm` sends its stream through this daemon's tunnel, and the VM either leaves (its
/// definition with it) or keeps running here.
extension VMManager {
    /// How often the source `vmm`'s progress is polled.
    static let migrationPollSeconds = 0.2
    /// How long a VM awaiting the destination's confirmation waits for it to answer before
    /// it is left paused (it may run there: it must never run twice).
    static let confirmationTimeout = 300.0
    /// How long a migration may send nothing before the source cancels it.
    static let stallTimeout = 45.0

    /// Moves the running or paused VM `name` to the daemon at `request.to`; returns once
    /// it runs there, or throws why not (the VM then runs on here).
    func migrate(_ name: String, _ request: VMMigrateRequest) async throws -> VMMigrationResult {
        let vm = try lookup(name)
        try VMAction.migrate.check(vm.state, vm: name)
        try checkIdle(name)
        guard let peers else {
            throw APIError(code: .conflict, message: "this daemon cannot migrate VMs: start vmmd with --listen and --tls-*")
        }
        let target = try HostAndPort.peer(request.to)
        if let downtime = request.maxDowntimeMs, downtime < 1 {
            throw APIError(code: .badRequest, message: "maxDowntimeMs must be at least 1, not \(downtime)")
        }
        if let bandwidth = request.bandwidthMbps, bandwidth < 0 {
            throw APIError(code: .badRequest, message: "bandwidthMbps must be 0 (no cap) or more, not \(bandwidth)")
        }
        guard let run = vm.run else { throw APIError.internalError("VM \(name) has no process") }
        let copyStorage = request.copyStorage ?? false
        let begin = ContinuousClock.now
        busy[name] = "migrating to \(target)"
        outgoing[name] = OutgoingMigration(to: target, copyStorage: copyStorage)
        defer {
            busy[name] = nil
            outgoing[name] = nil
        }
        let directory = runtimeDirectory(name)
        let control = ControlChannel(socketPath: directory.controlSocket)
        do {
            let ticket = try await offer(vm.definition, to: target, copyStorage: copyStorage, peers)
            outgoing[name]?.id = ticket.id
            try? AtomicFile.write(
                try JSONEncoder().encode(OutgoingMigrationFile(id: ticket.id, to: target.description, copyStorage: copyStorage)), to: directory.migrationFile)
            defer { unlink(directory.migrationFile) }
            let tunnel: OutgoingTunnel
            do {
                tunnel = try await OutgoingTunnel.open(
                    socketPath: directory.migrationSocket, host: target.host, port: ticket.port, id: ticket.id,
                    security: peers.security
                ) { reason in Task { await self.noteTunnelFailure(name, reason) } }
                defer { tunnel.close() }
                try admitVMM(name, toSocket: directory.migrationSocket)
                try await control.migrate(
                    to: pathForVMM(name, directory.migrationSocket), maxDowntimeMs: request.maxDowntimeMs, bandwidthMbps: request.bandwidthMbps,
                    copyStorage: copyStorage)
                logger.info("VM \(name): migrating to \(target) (migration \(ticket.id))")
                try await follow(name, run, control, ticket.id, peers)
                // The destination notices its guest runs within a poll; asking makes it
                // notice now, so the VM shows running there by the time this returns.
                _ = try? await peers.call(target, .GET, "/v1/migrations/\(ticket.id)", as: IncomingMigration.self)
            } catch {
                await withdraw(ticket.id, from: target, peers)
                throw error
            }
        } catch {
            let reason = (error as? APIError)?.message ?? "\(error)"
            logger.info("VM \(name): migration to \(target) failed: \(reason)")
            publish(.migrationFailed, name, snapshot: nil, peer: target.description, reason: reason)
            throw Self.migrationError(error, name, target)
        }
        let progress = outgoing[name]?.progress
        return VMMigrationResult(
            vm: name, to: target.description, id: outgoing[name]?.id ?? "", rounds: progress?.rounds ?? 0, bytesSent: progress?.bytesSent ?? 0,
            downtimeMs: outgoing[name]?.downtimeMs, seconds: (ContinuousClock.now - begin) / .seconds(1))
    }

    /// Asks the destination to take the VM (it checks it can run it there).
    private func offer(
        _ definition: VMDefinition, to target: HostAndPort, copyStorage: Bool, _ peers: PeerNetwork
    ) async throws -> MigrationTicket {
        let sizes = copyStorage ? try definition.disks.map { try Self.fileSize($0.path) } : nil
        let request = MigrationRequest(definition: definition, copyStorage: copyStorage, diskSizes: sizes)
        return try await peers.call(target, .POST, "/v1/migrations", body: request, as: MigrationTicket.self)
    }

    /// Polls the source `vmm` until the VM has left (returns) or the migration failed (throws).
    private func follow(
        _ name: String, _ run: ManagedVM.Run, _ control: ControlChannel, _ id: String, _ peers: PeerNetwork
    ) async throws {
        var lastRounds = -1
        var lastBytes: UInt64 = 0
        var lastProgress = ContinuousClock.now
        var cancelled = false
        while true {
            if run.exited.hasFired { return try departedOrThrow(name, run) }
            _ = await run.exited.wait(seconds: Self.migrationPollSeconds)
            if run.exited.hasFired { return try departedOrThrow(name, run) }
            guard let migration = try? await control.migrationStatus().migration, let target = outgoing[name]?.to else {
                continue
            }
            // A stream that moves no byte for a long while (a handshake that never ends, a
            // link gone quiet) is cancelled before `go`: the guest runs on here.
            if (migration.bytesSent ?? 0) != lastBytes {
                lastBytes = migration.bytesSent ?? 0
                lastProgress = .now
            } else if !cancelled, ["setup", "precopy"].contains(migration.phase),
                      ContinuousClock.now - lastProgress > .seconds(Self.stallTimeout) {
                logger.warning("VM \(name): the migration to \(target) sent nothing for \(Int(Self.stallTimeout)) s; cancelling it")
                outgoing[name]?.tunnelFailure = outgoing[name]?.tunnelFailure ?? "no progress for \(Int(Self.stallTimeout)) s"
                cancelled = (try? await control.send("migrate-cancel")) != nil
            }
            outgoing[name]?.progress = migration.progress(to: target.description)
            if let downtime = migration.downtimeMs { outgoing[name]?.downtimeMs = downtime }
            if let rounds = migration.rounds, rounds != lastRounds, migration.phase == "precopy" {
                lastRounds = rounds
                let remaining = migration.remainingBytes ?? 0
                publish(
                    .migrationProgress, name, snapshot: nil, peer: target.description,
                    reason: "round \(rounds): \(migration.bytesSent ?? 0) bytes sent, \(remaining) bytes left")
            }
            switch migration.phase {
            case "completed":
                if await !run.exited.wait(seconds: Self.forcedStopTimeout) {
                    throw APIError.internalError("the vmm of VM \(name) reported the migration completed but did not exit")
                }
                return try departedOrThrow(name, run)
            case "failed", "cancelled":
                let tunnel = outgoing[name]?.tunnelFailure.map { " (\($0))" } ?? ""
                var reason = migration.message ?? "the vmm reports the migration \(migration.phase)"
                if reason.hasPrefix("failed: ") { reason.removeFirst("failed: ".count) }
                throw APIError(code: .unavailable, message: "\(reason)\(tunnel); the VM keeps running here")
            case "awaiting-confirmation":
                try await confirm(name, run, control, id, target, peers)
                return try departedOrThrow(name, run)
            default:
                continue
            }
        }
    }

    /// After the `vmm` sent `go` and lost the link before `resumed`: the destination says
    /// whether the guest runs there. It does: the source `vmm` is stopped (the VM left). It
    /// does not: the guest resumes here. No answer: the VM stays paused (never twice).
    private func confirm(
        _ name: String, _ run: ManagedVM.Run, _ control: ControlChannel, _ id: String, _ target: HostAndPort,
        _ peers: PeerNetwork
    ) async throws {
        logger.warning("VM \(name): link to \(target) lost after go; asking it whether the VM runs there")
        let deadline = ContinuousClock.now + .seconds(Self.confirmationTimeout)
        while ContinuousClock.now < deadline, !run.exited.hasFired {
            do {
                let answer = try await peers.call(target, .GET, "/v1/migrations/\(id)", as: IncomingMigration.self)
                switch answer.phase {
                case .running:
                    outgoing[name]?.confirmed = true
                    vms[name]?.run?.endRequested = true
                    try? await control.send("stop")
                    if await !run.exited.wait(seconds: Self.forcedStopTimeout) { run.process.signal(SIGKILL) }
                    _ = await run.exited.wait(seconds: Self.forcedStopTimeout)
                    return
                case .failed:
                    try await control.send("resume")
                    throw APIError(
                        code: .unavailable,
                        message: "the destination did not run the VM (\(answer.message ?? "failed")); it runs on here")
                case .incoming:
                    break
                }
            } catch let error as PeerError where error.status == 404 {
                try await control.send("resume")
                throw APIError(code: .unavailable, message: "the destination has no record of the migration; the VM runs on here")
            } catch is PeerError {
                // Unreachable or busy: ask again.
            }
            try? await Task.sleep(for: .seconds(1))
        }
        if run.exited.hasFired { return }
        throw APIError(
            code: .unavailable,
            message: "VM \(name) is paused: the link to \(target) was lost after the guest was handed over, and \(target) "
                + "cannot be asked whether it runs there. Check there (GET /v1/migrations/\(id)); resume it here only if it does not")
    }

    /// The `vmm` ended: the VM left if it ended migrated (or confirmed); otherwise the
    /// migration failed with it.
    private func departedOrThrow(_ name: String, _ run: ManagedVM.Run) throws {
        if vms[name] == nil || vms[name]?.run?.process !== run.process, departed[name] != nil { return }
        throw APIError.internalError(
            "the vmm of VM \(name) ended during the migration: \(vms[name]?.lastExit ?? "no exit record")")
    }

    /// Tells the destination to drop a migration that will not complete (best effort: it
    /// also cleans up by itself when the stream breaks).
    private func withdraw(_ id: String, from target: HostAndPort, _ peers: PeerNetwork) async {
        do {
            try await peers.send(target, .DELETE, "/v1/migrations/\(id)")
        } catch PeerError.unreachable {
            // A cut link may come back: keep telling it for a minute, in the background, so
            // that its `vmm receive` goes now rather than when its stream times out.
            logger.warning("could not cancel migration \(id) on \(target) (unreachable); retrying for a minute")
            let logger = logger
            Task.detached {
                for _ in 0..<30 {
                    try? await Task.sleep(for: .seconds(2))
                    do {
                        try await peers.send(target, .DELETE, "/v1/migrations/\(id)")
                        return
                    } catch PeerError.unreachable {
                        continue
                    } catch {
                        return
                    }
                }
                logger.warning("gave up cancelling migration \(id) on \(target); it ends there by itself")
            }
        } catch {
            logger.warning("could not cancel migration \(id) on \(target): \(error)")
        }
    }

    func noteTunnelFailure(_ name: String, _ reason: String) {
        outgoing[name]?.tunnelFailure = reason
        logger.warning("VM \(name): \(reason)")
    }

    /// The VM `name` now runs on `to` (its `vmm` ended migrated): its definition and
    /// snapshots go, its console log ends with where it went. Called from `processEnded`.
    func depart(_ name: String, to: String, _ run: ManagedVM.Run?) {
        guard let vm = vms[name] else { return }
        let copiedStorage = outgoing[name]?.copyStorage ?? Self.migrationFile(runtimeDirectory(name))?.copyStorage ?? false
        let time = Date()
        vm.console.append(Array("\n[vmmd: VM \(name) migrated to \(to) at \(time.formatted(.iso8601))]\n".utf8))
        do {
            try store.remove(name)
        } catch {
            logger.error("VM \(name) left for \(to), but its definition here could not be removed: \(error)")
        }
        try? snapshots.removeAll(name)
        runtimeDirectory(name).remove()
        cgroups.release(vm: name, logger: logger)
        clusterWrite(.release(name))
        if copiedStorage {
            removeMovedDisks(vm.definition)
        } else {
            markLentDisks(vm.definition, to: to)
        }
        vms[name] = nil
        departed[name] = Departure(to: to, time: time, console: vm.console)
        if departed.count > 64, let oldest = departed.min(by: { $0.value.time < $1.value.time })?.key {
            departed[oldest] = nil
        }
        logger.info("VM \(name) migrated to \(to)")
        publish(.migrated, name, snapshot: nil, peer: to, reason: "VM \(name) runs on \(to) now", state: .stopped)
        run?.exited.fire()
    }

    /// Disks of a departed VM inside this daemon's disk folder (a clone's, or copied here by
    /// an earlier migration) are the VM's on its new host now (shared storage): marked, so
    /// that they are not taken for orphans and removed.
    func markLentDisks(_ definition: VMDefinition, to: String) {
        let folder = "\(configuration.disksDirectory)/\(definition.name)/"
        guard definition.disks.contains(where: { $0.path.hasPrefix(folder) }) else { return }
        let marker = Self.lentMarker(configuration.disksDirectory, definition.name)
        try? AtomicFile.write(Data("\(to)\n".utf8), to: marker)
    }

    /// After a copy-storage migration the destination runs on disks it created itself, with
    /// O_EXCL while this host's images existed, so never on this host's files, whatever
    /// storage the hosts share. The writable disks this daemon made (in its
    /// `<state>/disks/NAME/`: a clone's copies, or a copy-storage arrival's) are then no
    /// one's any more: removed, with the folder once empty. Read-only disks were not copied
    /// (both hosts read the same image) and images elsewhere are the user's: both stay.
    func removeMovedDisks(_ definition: VMDefinition) {
        let folder = "\(configuration.disksDirectory)/\(definition.name)"
        let moved = definition.disks.filter { !$0.readOnly && $0.path.hasPrefix(folder + "/") }.map(\.path)
        guard !moved.isEmpty else { return }
        Self.removeDisks(moved)
        rmdir(folder)
        logger.info("VM \(definition.name): removed this host's copies of its disks (\(moved.joined(separator: ", "))): they were copied to its new host")
    }

    /// A migration's failure as the API reports it; the VM runs on here in every case.
    private static func migrationError(_ error: any Error, _ name: String, _ target: HostAndPort) -> APIError {
        let prefix = "migration of VM \(name) to \(target) failed"
        switch error {
        case let error as PeerError:
            if case .refused(_, let status, let cause) = error, let cause = cause as? APIError,
               let code = APIError.Code(rawValue: cause.code), status < 500 {
                return APIError(code: code, message: "\(prefix): the destination refused: \(cause.message)")
            }
            return APIError(code: .unavailable, message: "\(prefix): \(error); the VM keeps running here")
        case let error as APIError:
            return APIError(code: APIError.Code(rawValue: error.code) ?? .internalError, message: "\(prefix): \(error.message)")
        default:
            return APIError.internalError("\(prefix): \(error); the VM keeps running here")
        }
    }

    /// Where the migration recorded in `directory` went, if one is.
    static func migrationTarget(_ directory: RuntimeDirectory) -> String? {
        migrationFile(directory)?.to
    }

    static func migrationFile(_ directory: RuntimeDirectory) -> OutgoingMigrationFile? {
        FileManager.default.contents(atPath: directory.migrationFile).flatMap {
            try? JSONDecoder().decode(OutgoingMigrationFile.self, from: $0)
        }
    }

    /// After a restart, for an adopted VM whose `vmm` had been migrating: one still
    /// awaiting the destination's confirmation gets it asked (stop or resume, as during
    /// the migration); for any other the old migration is over (the `vmm` resumed the
    /// guest itself when the tunnel died with the old daemon).
    func settleMigrationAfterRestart(_ name: String) async {
        let directory = runtimeDirectory(name)
        guard let file = Self.migrationFile(directory) else { return }
        let control = ControlChannel(socketPath: directory.controlSocket)
        guard let peers, let target = try? HostAndPort.peer(file.to), let run = vms[name]?.run,
              (try? await control.migrationStatus())?.migration?.phase == "awaiting-confirmation"
        else {
            unlink(directory.migrationFile)
            return
        }
        busy[name] = "confirming its migration to \(target)"
        // An older daemon's file does not say: keep the disks (the safe side).
        outgoing[name] = OutgoingMigration(to: target, copyStorage: file.copyStorage ?? false)
        outgoing[name]?.id = file.id
        defer {
            busy[name] = nil
            outgoing[name] = nil
        }
        do {
            try await confirm(name, run, control, file.id, target, peers)
        } catch {
            logger.error("VM \(name): \(error)")
            publish(.migrationFailed, name, snapshot: nil, peer: target.description, reason: "\(error)")
        }
        unlink(directory.migrationFile)
    }

    private static func fileSize(_ path: String) throws -> UInt64 {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw APIError.internalError("cannot read the size of disk \(path): \(Linux.errorMessage)")
        }
        // A block device's size is not in st_size.
        if info.st_mode & S_IFMT == S_IFBLK {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            defer { if fd >= 0 { close(fd) } }
            let end = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1
            guard end >= 0 else { throw APIError.internalError("cannot read the size of disk \(path): \(Linux.errorMessage)") }
            return UInt64(end)
        }
        return UInt64(info.st_size)
    }
}
