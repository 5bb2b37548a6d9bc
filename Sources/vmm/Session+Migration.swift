#if canImport(Glibc)
import Glibc
#endif
import VMMCore

/// Live migration: the `migrate` and `migrate-cancel` requests (source) and building the
/// VM from a migration stream (`vmm receive`). See docs/migration.md.
extension Session {
    // MARK: Source

    /// Starts migrating the running VM to the destination listening at `options.path`;
    /// the stream is sent from a thread of its own while the VM keeps running.
    func migrate(_ options: MigrationOptions) throws(ControlError) -> JSONValue {
        let (machine, paused) = try currentMachine()
        guard !paused else {
            throw ControlError(.conflict, "the VM is paused: resume it before migrating it")
        }
        try live.withLock { l throws(ControlError) in try Self.checkNoMigration(l) }
        let channel: MigrationChannel
        do {
            channel = try MigrationChannel.connect(to: options.path)
        } catch {
            throw ControlError(error.isUserError ? .badRequest : .failed, error.description)
        }
        let sender = MigrationSender(channel: channel, options: options, kvm: builder.kvm, log: log)
        try live.withLock { l throws(ControlError) in
            try Self.checkNoMigration(l)
            l.migration = sender
        }
        log.info("migrating the VM to \(options.path)")
        var described = description(memoryOnly: false)
        described.diskCopies = described.configuration.disks.map { _ in nil }
        let description = described
        do throws(VMMError) {
            try startSending(sender, machine, description)
        } catch {
            live.withLock { $0.migration = nil }
            throw ControlError(.failed, error.description)
        }
        return .object([("ok", .bool(true)), ("state", .string("migrating"))])
    }

    private func startSending(_ sender: MigrationSender, _ machine: Machine, _ description: SnapshotDescription) throws(VMMError) {
        try HostThread.detach(.migrationSender, name: "migration") { [self] in
            let vcpus = SnapshotWriter.VCPUControl(
                alreadyPaused: false,
                pause: { () throws(VMMError) in
                    // A guest that rebooted meanwhile is another machine: never send this one.
                    guard self.live.withLock({ $0.machine === machine }) else {
                        throw .invalidConfiguration("the guest rebooted during the migration")
                    }
                    do throws(ControlError) {
                        try self.pause(forMigration: true)
                    } catch {
                        throw .system("pausing the vCPUs (\(error.message))", ETIMEDOUT)
                    }
                },
                resume: { try? self.resume(forMigration: true) })
            if sender.run(machine, description: description, vcpus: vcpus) == .completed {
                forceStop(.migrated)
            }
        }
    }

    func cancelMigration() throws(ControlError) {
        guard let sender = live.withLock({ $0.migration }), sender.progress.isActive else {
            throw ControlError(.conflict, "no migration is in progress")
        }
        guard sender.cancel() else {
            throw ControlError(.conflict, "the migration has committed: the VM is resuming on the destination")
        }
    }

    /// Requests that would change the VM under a migration wait for it to end.
    static func checkNoMigration(_ live: Live) throws(ControlError) {
        guard let migration = live.migration else { return }
        switch migration.progress.phase {
        case .setup, .precopy, .stopping:
            throw ControlError(.conflict, "the VM is being migrated: wait for the migration to end or cancel it (migrate-cancel)")
        case .awaitingConfirmation:
            throw ControlError(
                .conflict, "the migration awaits confirmation: 'resume' if the VM does not run on the destination, else 'stop'")
        default:
            return
        }
    }

    /// `resume` after a migration whose destination never confirmed it runs the VM: the
    /// caller checked that it does not, so the VM runs here again. False when no such
    /// migration waits.
    func resumeAfterUnconfirmedMigration() throws(ControlError) -> Bool {
        guard let sender = live.withLock({ $0.migration }), sender.progress.phase == .awaitingConfirmation,
              let machine = live.withLock({ $0.machine })
        else { return false }
        sender.resumeHere(machine)
        try resume(forMigration: true)
        log.info("resumed the VM here: the destination does not run it")
        return true
    }

    /// The exit message of a source whose VM now runs on the destination.
    func migratedMessage() -> String {
        guard let sender = live.withLock({ $0.migration }) else { return "migrated" }
        let progress = sender.progress
        guard let downtime = progress.downtime else {
            return "stopped after the migration to \(sender.options.path): the destination runs the VM"
        }
        return "migrated to \(sender.options.path); downtime \(Int((downtime * 1000).rounded(.up))) ms"
    }

    // MARK: Destination

    /// Receives the VM, builds it paused and waits for the source's `go`; the VM has never
    /// run here when this fails.
    func receiveMachine(
        _ receiver: MigrationReceiver,
        configure: (SnapshotDescription) throws(VMMError) -> MachineConfiguration,
        console: any ConsoleSink
    ) -> Result<Machine, ExitReport.Failure> {
        log.info("waiting for the migration")
        let started = MonotonicClock.now
        do throws(MigrationReceiver.Failure) {
            let incoming = try receiver.receive(configure: configure)
            let machine: Machine
            do throws(VMMError) {
                let inputs = try builder.validate(restoring: incoming.hello.description, configuration: incoming.configuration)
                setGuest(Guest(configuration: incoming.configuration, inputs: inputs))
                machine = try builder.restore(incoming, inputs: inputs, serialOutput: { console.write($0) })
            } catch {
                let message = "cannot build the VM here: \(error)"
                receiver.abort(message)
                throw error.isUserError ? .refused(message) : .failed(message)
            }
            machine.pause()
            try receiver.ready()
            machine.resume()
            log.info(
                "migration received: \(receiver.currentProgress.bytesReceived) bytes in "
                    + "\(Int((MonotonicClock.now - started) * 1000)) ms; the VM runs here")
            return .success(machine)
        } catch {
            let stopped = live.withLock { $0.stopRequest != nil }
            let message = stopped ? "stopped while waiting for the migration" : "migration failed: \(error)"
            log.error(message)
            if case .refused = error {
                return .failure(.init(ExitReport(reason: .migrationFailed, status: ExitStatus.badInput, message: message)))
            }
            return .failure(.init(ExitReport(
                reason: stopped ? .stopped : .migrationFailed,
                status: stopped ? ExitStatus.forcedStop : ExitStatus.migrationFailed, message: message)))
        }
    }

    /// After the VM resumed here: 5 RARP announcements from each NIC's MAC on its tap, the
    /// first at once, then 50 ms apart growing by 100 ms (QEMU's self-announce).
    func announceOnNetworks() {
        let networks = currentGuest?.inputs.virtioDevices.compactMap { $0 as? VirtioNetworkDevice } ?? []
        guard !networks.isEmpty else { return }
        let log = self.log
        do throws(VMMError) {
            try announce(on: networks, log: log)
        } catch {
            log.warning("no self-announce on the taps: \(error)")
        }
    }

    private func announce(on networks: [VirtioNetworkDevice], log: Logger) throws(VMMError) {
        try HostThread.detach(.announcer, name: "announce") {
            for round in 0..<5 {
                if round > 0 {
                    var pause = timespec(tv_sec: 0, tv_nsec: (50 + 100 * (round - 1)) * 1_000_000)
                    nanosleep(&pause, nil)
                }
                for network in networks where !network.announce() {
                    log.debug("announce on tap \(network.tap.name) failed: \(String(cString: strerror(errno)))")
                }
            }
        }
    }
}
