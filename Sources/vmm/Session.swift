#if canImport(Glibc)
import Glibc
#endif
import Seccomp
import Synchronization
import VMMCore

/// One `vmm run`: the machine (rebuilt on each guest reboot), the console, signals and
/// the control socket.
final class Session: Sendable {
    /// Why the host stopped the machine; decides whether it boots again and how vmm exits.
    enum StopRequest: Equatable {
        case reboot, quit, stop, timeout
        /// The fence deadline passed (docs/cluster.md section 4).
        case fenced
        /// The VM runs on the migration's destination now.
        case migrated
    }

    /// What control requests and the main loop share.
    struct Live {
        var machine: Machine?
        var paused = false
        var boots = 0
        var stopRequest: StopRequest?
        /// The latest outgoing migration (kept after it ended, for `status`).
        var migration: MigrationSender?
        /// The incoming migration while `vmm receive` waits for its VM.
        var incoming: MigrationReceiver?
    }

    /// What the VM is made of; known from the start, except for `vmm receive`.
    struct Guest {
        var configuration: MachineConfiguration
        var inputs: MachineBuilder.Inputs
    }

    /// How the first machine comes to life; reboots always boot the kernel.
    enum Start: Sendable {
        case boot
        /// From a snapshot; `paused` keeps the vCPUs out of the guest until `resume`;
        /// `catchUpClock` moves the guest's clock on by the time since the snapshot.
        case restore(SnapshotImage, paused: Bool, catchUpClock: Bool)
        /// From a migration stream; `configure` applies this side's disks and NICs.
        case incoming(MigrationReceiver, configure: @Sendable (SnapshotDescription) throws(VMMError) -> MachineConfiguration)
    }

    private static let pauseTimeout = 1.0
    private static let buildTimeout = 5.0
    /// How long clients that are behind get to take the console output queued for them
    /// once the VM ended (a client that reads not at all delays vmm's end by this much).
    private static let consoleFlushTimeout = 1.0

    let builder: MachineBuilder
    let log: Logger
    private let noReboot: Bool
    private let shutdownTimeout: Double
    private let seccomp: SeccompMode
    private let supervision: Supervision
    let live = Mutex(Live())
    let fence = FenceTimer()
    private let guest: Mutex<Guest?>
    private let started = MonotonicClock.now
    private let start: Start

    /// `configuration` and `inputs` are nil for `.incoming` only.
    init(builder: MachineBuilder, configuration: MachineConfiguration?, inputs: MachineBuilder.Inputs?,
         log: Logger, noReboot: Bool, shutdownTimeout: Double, seccomp: SeccompMode, supervision: Supervision,
         start: Start = .boot) {
        self.start = start
        self.builder = builder
        if let configuration, let inputs {
            guest = Mutex(Guest(configuration: configuration, inputs: inputs))
        } else {
            guest = Mutex(nil)
        }
        if case .incoming(let receiver, _) = start { live.withLock { $0.incoming = receiver } }
        self.log = log
        self.noReboot = noReboot
        self.shutdownTimeout = shutdownTimeout
        self.seccomp = seccomp
        self.supervision = supervision
    }

    /// Runs the guest to its end, leaves the exit file and returns the process exit status.
    func run() -> Int32 {
        // Blocked before any thread starts, so every thread inherits the mask and only
        // the watcher receives these signals.
        SignalWatcher.blockTerminationSignals()
        let terminal = supervision.consoleSocket == nil ? Terminal.makeRawIfInteractive() : nil
        defer { terminal?.restore() }
        ThreadConfinement.enable(seccomp, processID: supervision.processID)
        if let failure = prepareMainThread() {
            supervision.finish(failure)
            return failure.status
        }
        let report: ExitReport
        do {
            try SignalWatcher(timeout: shutdownTimeout, log: log,
                              pressPowerButton: { [self] in pressPowerButton() },
                              forceStop: { [self] in forceStop(.timeout) },
                              fenceSignalled: { [self] in fenceIfPassed() }).start()
            var sockets: [SocketServer.Socket] = []
            let console = try startConsole(escapes: terminal != nil, sockets: &sockets)
            if let listener = supervision.controlSocket {
                sockets.append(SocketServer.Socket(listener: listener, handler: ControlSocket(session: self)))
            }
            if !sockets.isEmpty { try SocketServer(sockets, log: log).start() }
            report = runMachines(console: console)
            console.flush(within: Self.consoleFlushTimeout)
        } catch {
            log.error(error.description)
            report = ExitReport(reason: .hostFailure, status: ExitStatus.hostFailure, message: error.description)
        }
        supervision.finish(report)
        return report.status
    }

    /// Makes the fence timer (the main filter allows no `timer_create` later) and the vCPU
    /// launcher, then enters the main thread's filter; the report of what failed, if anything did.
    private func prepareMainThread() -> ExitReport? {
        let failure = { (message: String) -> ExitReport in
            self.log.error(message)
            return ExitReport(reason: .hostFailure, status: ExitStatus.hostFailure, message: message)
        }
        do {
            try fence.create()
        } catch {
            return failure(error.description)
        }
        do {
            // vCPU threads start from a launcher that enters the vCPU filter before the main
            // filter exists, so a vCPU's system calls run one filter, not two.
            if seccomp != .off { VCPUThread.useLauncher(try ThreadLauncher(kind: .vcpu, name: "vcpu launcher")) }
        } catch {
            return failure(error.description)
        }
        do {
            // Before any other thread starts: each inherits this filter and adds its own
            // (docs/seccomp.md).
            try ThreadConfinement.enter(.main, name: "vmm")
        } catch {
            return failure(error.description)
        }
        return nil
    }

    /// The console on standard input and output, or on its socket (added to `sockets`).
    private func startConsole(escapes: Bool, sockets: inout [SocketServer.Socket]) throws(VMMError) -> any ConsoleSink {
        let deliver: @Sendable ([UInt8]) -> Int = { [self] bytes in
            live.withLock { $0.machine }?.devices.serial.receive(bytes) ?? 0
        }
        if let listener = supervision.consoleSocket {
            let console = ConsoleSocket(deliver: deliver)
            sockets.append(SocketServer.Socket(listener: listener, handler: console))
            return console
        }
        try ConsoleInput(escapes: escapes, log: log, deliver: deliver, quit: { [self] in forceStop(.quit) }).start()
        return StandardOutput()
    }

    /// The configuration and inputs, once known (always, but while `vmm receive` waits).
    var currentGuest: Guest? { guest.withLock { $0 } }

    func setGuest(_ value: Guest) { guest.withLock { $0 = value } }

    private func runMachines(console: any ConsoleSink) -> ExitReport {
        var pendingStart = start
        var migrated: MigrationReceiver?
        while true {
            let machine: Machine
            var startPaused = false
            do {
                switch pendingStart {
                case .boot:
                    var guest = currentGuest!
                    machine = try builder.build(guest.configuration, inputs: &guest.inputs, serialOutput: { console.write($0) })
                    setGuest(guest)  // the first boot decided the kernel parameters a snapshot records
                case .restore(let image, let paused, let catchUpClock):
                    let guest = currentGuest!
                    machine = try builder.restore(
                        image, configuration: guest.configuration, inputs: guest.inputs, catchUpClock: catchUpClock,
                        serialOutput: { console.write($0) })
                    startPaused = paused
                    log.info("restored the VM from \(image.directory)\(paused ? "; paused until resumed" : "")")
                case .incoming(let receiver, let configure):
                    switch receiveMachine(receiver, configure: configure, console: console) {
                    case .success(let received): machine = received
                    case .failure(let failure): return failure.report
                    }
                    migrated = receiver
                }
                pendingStart = .boot
            } catch {
                log.error(error.description)
                return ExitReport(failure: error)
            }
            if startPaused { machine.pause() }
            let boots = live.withLock { l in
                l.machine = machine
                l.paused = startPaused
                l.boots += 1
                // A stop that came while no machine existed applies to this one.
                if l.stopRequest != nil { machine.forceStop() }
                return l.boots
            }
            if boots == 1 { supervision.announceRunning() }
            if let receiver = migrated {
                receiver.resumed()
                live.withLock { $0.incoming = nil }
                announceOnNetworks()
                migrated = nil
            }
            let exit: MachineExit
            do {
                exit = try machine.run()
            } catch {
                log.error(error.description)
                return ExitReport(reason: .hostFailure, status: ExitStatus.hostFailure, message: error.description)
            }
            let request = live.withLock { l in
                l.machine = nil
                // The machine a migration was sending is gone (a guest reboot): give it up.
                if let migration = l.migration, migration.progress.isActive { _ = migration.cancel() }
                defer { if l.stopRequest == .reboot { l.stopRequest = nil } }
                return l.stopRequest
            }
            switch (exit, request) {
            case (.reset, _) where !noReboot:
                log.info("guest rebooted")
                continue
            case (.forcedStop, .reboot):
                log.info("rebooting the guest on request")
                continue
            case (.guestFault(let report), _):
                log.error("guest crashed: \(report)")
            case (.hostFailure(let report), _):
                log.error(report)
            case (.forcedStop, .quit):
                return ExitReport(exit, forcedStatus: ExitStatus.success, forcedMessage: "quit from the console")
            case (.forcedStop, .stop):
                return ExitReport(exit, forcedMessage: "stopped through the control socket")
            case (.forcedStop, .fenced):
                let message = "the fence deadline passed without being moved later (the host could not renew its "
                    + "cluster lease in time); the VM was stopped so that it never runs on two hosts"
                log.warning(message)
                return ExitReport(reason: .fenced, status: ExitStatus.fenced, message: message)
            case (.forcedStop, .migrated):
                return ExitReport(
                    reason: .migrated, status: ExitStatus.success, message: migratedMessage(),
                    migration: live.withLock { $0.migration?.progress.json })
            case (.forcedStop, _):
                let message = "guest did not power off within \(shutdownTimeout) s of the power button; stopped it"
                log.warning(message)
                return ExitReport(exit, forcedMessage: message)
            default:
                break
            }
            return ExitReport(exit)
        }
    }

    // MARK: Control

    /// Presses the ACPI power button; a cooperative guest shuts down and vmm exits.
    func pressPowerButton() {
        live.withLock { $0.machine }?.pressPowerButton()
    }

    /// Stops the machine now; vmm exits.
    /// After a migration that awaits confirmation, the supervisor stops the source because
    /// the destination runs the VM: that ends as `migrated`.
    func stop() {
        let unconfirmed = live.withLock { $0.migration?.progress.phase == .awaitingConfirmation }
        forceStop(unconfirmed ? .migrated : .stop)
    }

    /// Resets the guest: the machine is stopped and built again, as on a guest reboot.
    func reboot() throws(ControlError) {
        let accepted = try live.withLock { l throws(ControlError) -> Bool in
            try Self.checkNoMigration(l)
            guard let machine = l.machine, l.stopRequest == nil else { return false }
            l.stopRequest = .reboot
            machine.forceStop()
            return true
        }
        guard accepted else { throw ControlError(.conflict, "the VM is already restarting or stopping") }
    }

    /// Holds every vCPU outside the guest; returns once they all are, or throws after a second.
    func pause(forMigration: Bool = false) throws(ControlError) {
        awaitMachine()
        let machine = try live.withLock { l throws(ControlError) -> Machine in
            if l.incoming != nil && l.machine == nil { throw ControlError(.conflict, "the VM is still migrating here") }
            guard let machine = l.machine, l.stopRequest == nil else {
                throw ControlError(.conflict, "the VM is restarting or stopping")
            }
            if !forMigration { try Self.checkNoMigration(l) }
            guard !l.paused else { throw ControlError(.conflict, "already paused") }
            l.paused = true
            machine.pause()
            return machine
        }
        let deadline = MonotonicClock.now + Self.pauseTimeout
        while MonotonicClock.now < deadline {
            let states = machine.vcpus.map(\.state)
            if states.allSatisfy({ $0 == .paused }) { return }
            if states.contains(.stopped) { throw ControlError(.conflict, "the VM is stopping") }
            // vCPUs leave the guest within tens of microseconds: poll finely, since a
            // snapshot's pause starts here.
            var pause = timespec(tv_sec: 0, tv_nsec: 20_000)
            nanosleep(&pause, nil)
        }
        // Leave the VM as it was rather than half paused.
        try? resume(forMigration: forMigration)
        throw ControlError(.timeout, "the vCPUs did not pause within \(Self.pauseTimeout) s")
    }

    /// Waits (a few seconds at most) while the machine is being built: at start-up and
    /// after a reboot there is briefly none, and a request then should wait, not fail.
    private func awaitMachine() {
        let deadline = MonotonicClock.now + Self.buildTimeout
        while MonotonicClock.now < deadline {
            let ready = live.withLock { l in
                l.machine != nil || l.incoming != nil || (l.stopRequest != nil && l.stopRequest != .reboot)
            }
            if ready { return }
            var pause = timespec(tv_sec: 0, tv_nsec: 1_000_000)
            nanosleep(&pause, nil)
        }
    }

    /// The running machine and whether it is paused; a conflict while it restarts or stops.
    func currentMachine() throws(ControlError) -> (Machine, paused: Bool) {
        awaitMachine()
        return try live.withLock { l throws(ControlError) -> (Machine, paused: Bool) in
            if l.incoming != nil && l.machine == nil { throw ControlError(.conflict, "the VM is still migrating here") }
            guard let machine = l.machine, l.stopRequest == nil else {
                throw ControlError(.conflict, "the VM is restarting or stopping")
            }
            return (machine, l.paused)
        }
    }

    func resume(forMigration: Bool = false) throws(ControlError) {
        if !forMigration, try resumeAfterUnconfirmedMigration() { return }
        try live.withLock { l throws(ControlError) in
            if !forMigration { try Self.checkNoMigration(l) }
            guard let machine = l.machine, l.paused else { throw ControlError(.conflict, "already running") }
            l.paused = false
            machine.resume()
        }
    }

    /// `{"state":..,"pid":..,"vcpus":..,"memory":..,"uptime_ms":..,"exits":{..},"boots":..}`;
    /// exit counts are for the current boot.
    func status() -> JSONValue {
        // A VM being built (restored with --paused, say) is described once it exists.
        awaitMachine()
        let (machine, paused, boots, migration, incoming) = live.withLock {
            ($0.machine, $0.paused, $0.boots, $0.migration, $0.incoming)
        }
        if let incoming, machine == nil {
            return .object([("state", .string("incoming")), ("pid", .integer(Int(supervision.machineProcessID))),
                            ("migration", incoming.currentProgress.json)])
        }
        guard let configuration = currentGuest?.configuration else { return .object([("state", .string("stopping"))]) }
        let counters = machine?.vcpus.map(\.counters) ?? []
        let sum = { (counter: (ExitCounters) -> UInt64) in Int(clamping: counters.reduce(0) { $0 &+ counter($1) }) }
        return .object([
            ("state", .string(paused ? "paused" : "running")),
            ("pid", .integer(Int(supervision.machineProcessID))),
            ("vcpus", .integer(configuration.cpuCount)),
            ("memory", .integer(Int(clamping: configuration.memorySize))),
            ("uptime_ms", .integer(Int((MonotonicClock.now - started) * 1000))),
            ("exits", .object([
                ("io", .integer(sum { $0.portIO.load(ordering: .relaxed) })),
                ("mmio", .integer(sum { $0.mmio.load(ordering: .relaxed) })),
                ("other", .integer(sum { $0.other.load(ordering: .relaxed) + $0.interrupted.load(ordering: .relaxed) })),
            ])),
            ("boots", .integer(boots)),
        ] + fenceStatus + rateLimitStatus + (migration.map { [("migration", $0.progress.json)] } ?? [])
            + (balloon.map { [("balloon", Self.json($0))] } ?? []))
    }

    func forceStop(_ request: StopRequest) {
        live.withLock { l in
            // The first request wins, except that any stop outranks a pending reboot.
            if l.stopRequest == nil || l.stopRequest == .reboot { l.stopRequest = request }
            l.machine?.forceStop()
            l.incoming?.cancel()
        }
    }
}
