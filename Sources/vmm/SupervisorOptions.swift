#if canImport(Glibc)
import Glibc
#endif
import CommandLineOptions
import KVM
import Seccomp
import VMMCore

/// The options `vmm run` and `vmm restore` share: how a supervisor reaches this vmm, how
/// the guest is stopped, and how vmm reports its end.
struct SupervisorOptions {
    /// The options' declarations.
    enum Option {
        static let noReboot = OptionDefinition.flag(
            "no-reboot", help: "Exit when the guest reboots instead of booting it again.")
        static let shutdownTimeout = OptionDefinition.option(
            "shutdown-timeout", default: "5.0",
            help: "Seconds the guest gets to power off after SIGTERM presses its power button.")
        static let verbose = OptionDefinition.flag(
            "verbose", short: "v", help: "Log every unhandled device access and other details to stderr.")
        static let controlSocket = OptionDefinition.option(
            "control-socket", valueName: "path",
            help: "Serve the control protocol (status, pause, resume, shutdown, stop, reboot, snapshot, migrate, balloon) on a Unix socket.")
        static let consoleSocket = OptionDefinition.option(
            "console-socket", valueName: "path",
            help: "Put the serial console on a Unix socket instead of standard input and output.")
        static let pidFile = OptionDefinition.option(
            "pid-file", valueName: "path", help: "Write vmm's process id here once the VM runs.")
        static let exitFile = OptionDefinition.option(
            "exit-file", valueName: "path", help: "Write how vmm ended here, as one line of JSON.")

        static let seccomp = OptionDefinition.option(
            "seccomp", valueName: "on|log|off", default: "on",
            help: "Per-thread system call filters (docs/seccomp.md). on: a call outside a thread's list ends vmm "
                + "by SIGSYS, naming the call on standard error; log: the kernel logs such calls and lets them "
                + "run, to find what a list misses; off: no filters.")

        /// In the order help lists them, after each command's own options.
        static let all = [noReboot, shutdownTimeout, verbose, controlSocket, consoleSocket, pidFile, exitFile, seccomp]
    }

    let noReboot: Bool
    let shutdownTimeout: Double
    let verbose: Bool
    let controlSocket: String?
    let consoleSocket: String?
    let pidFile: String?
    let exitFile: String?
    let seccomp: SeccompMode

    init(_ parsed: ParsedArguments) throws(UsageError) {
        noReboot = parsed.flag(Option.noReboot)
        shutdownTimeout = try parsed.value(Option.shutdownTimeout, as: Double.self)
        verbose = parsed.flag(Option.verbose)
        controlSocket = parsed.value(Option.controlSocket)
        consoleSocket = parsed.value(Option.consoleSocket)
        pidFile = parsed.value(Option.pidFile)
        exitFile = parsed.value(Option.exitFile)
        let seccompValue = try parsed.value(Option.seccomp, as: String.self)
        guard let seccomp = SeccompMode(rawValue: seccompValue) else {
            throw UsageError("--seccomp must be on, log or off, not '\(seccompValue)'", commandName: parsed.commandName)
        }
        self.seccomp = seccomp
        guard shutdownTimeout >= 0 && shutdownTimeout.isFinite else {
            throw UsageError("--shutdown-timeout must be a number of seconds, 0 or more", commandName: parsed.commandName)
        }
    }

    func makeLogger() -> Logger {
        var log = Logger()
        if verbose { log.minimumLevel = .debug }
        return log
    }

    /// An exit file from an earlier run must not describe this one.
    func removeStaleExitFile() {
        if let exitFile { unlink(exitFile) }
    }

    /// Creates the sockets last, after every other check, so bad input leaves none behind.
    func makeSupervision(log: Logger) throws(VMMError) -> Supervision {
        var supervision = Supervision(pidFile: pidFile, exitFile: exitFile, log: log)
        if let controlSocket {
            supervision.controlSocket = try UnixListener(path: controlSocket, what: "--control-socket")
        }
        if let consoleSocket {
            do {
                supervision.consoleSocket = try UnixListener(path: consoleSocket, what: "--console-socket")
            } catch {
                supervision.controlSocket?.remove()
                throw error
            }
        }
        return supervision
    }

    /// Reports a failure before the VM ran: on standard error and in the exit file.
    /// Reports `error` as bad input (status 2) or a host failure (status 6).
    /// Opens /dev/kvm for a machine builder; a host without it ends vmm (status 6).
    func makeMachineBuilder(log: Logger) -> MachineBuilder {
        do {
            return MachineBuilder(kvm: try KVMSystem(), log: log)
        } catch {
            fail(error.description, status: ExitStatus.hostFailure)
        }
    }

    func fail(_ error: VMMError) -> Never {
        let report = ExitReport(failure: error)
        fail(report.message, status: report.status)
    }

    func fail(_ message: String, status: Int32) -> Never {
        Logger().error(message)
        let reason: ExitReport.Reason = status == ExitStatus.badInput ? .badInput : .hostFailure
        Supervision(exitFile: exitFile).finish(ExitReport(reason: reason, status: status, message: message))
        Glibc.exit(status)
    }
}
