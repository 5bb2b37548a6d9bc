#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import VMMCore

/// One `vmm run`: the machine (rebuilt on each guest reboot), the console and signals.
final class Session: Sendable {
    private let builder: MachineBuilder
    private let configuration: MachineConfiguration
    private let inputs: MachineBuilder.Inputs
    private let log: Logger
    private let noReboot: Bool
    private let shutdownTimeout: Double
    private let current = Mutex<Machine?>(nil)
    private let userQuit = Atomic<Bool>(false)

    init(builder: MachineBuilder, configuration: MachineConfiguration, inputs: MachineBuilder.Inputs,
         log: Logger, noReboot: Bool, shutdownTimeout: Double) {
        self.builder = builder
        self.configuration = configuration
        self.inputs = inputs
        self.log = log
        self.noReboot = noReboot
        self.shutdownTimeout = shutdownTimeout
    }

    /// Runs the guest to its end and returns the process exit status.
    func run() -> Int32 {
        // Blocked before any thread starts, so every thread inherits the mask and only
        // the watcher receives these signals.
        SignalWatcher.blockTerminationSignals()
        let terminal = Terminal.makeRawIfInteractive()
        defer { terminal?.restore() }
        SignalWatcher(timeout: shutdownTimeout, log: log,
                      pressPowerButton: { [self] in current.withLock { $0 }?.pressPowerButton() },
                      forceStop: { [self] in current.withLock { $0 }?.forceStop() }).start()
        ConsoleInput(escapes: terminal != nil, log: log,
                     deliver: { [self] bytes in current.withLock { $0 }?.devices.serial.receive(bytes) ?? 0 },
                     quit: { [self] in
                         userQuit.store(true, ordering: .relaxed)
                         current.withLock { $0 }?.forceStop()
                     }).start()

        while true {
            let machine: Machine
            do {
                machine = try builder.build(configuration, inputs: inputs, serialOutput: StandardOutput.write)
            } catch {
                log.error(error.description)
                return error.isUserError ? ExitStatus.badInput : ExitStatus.hostFailure
            }
            current.withLock { $0 = machine }
            let exit: MachineExit
            do {
                exit = try machine.run()
            } catch {
                log.error(error.description)
                return ExitStatus.hostFailure
            }
            current.withLock { $0 = nil }
            switch exit {
            case .reset where !noReboot:
                log.info("guest rebooted")
                continue
            case .guestFault(let report):
                log.error("guest crashed: \(report)")
            case .hostFailure(let report):
                log.error(report)
            case .forcedStop where userQuit.load(ordering: .relaxed):
                return ExitStatus.success
            case .forcedStop:
                log.warning("guest did not power off within \(shutdownTimeout) s of the power button; stopped it")
            default:
                break
            }
            return ExitStatus.forExit(exit)
        }
    }
}
