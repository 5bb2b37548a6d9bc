#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import VMMCore

/// The options `vmm run` and `vmm restore` share: how a supervisor reaches this vmm, how
/// the guest is stopped, and how vmm reports its end.
struct SupervisorOptions: ParsableArguments {
    @Flag(help: "Exit when the guest reboots instead of booting it again.")
    var noReboot = false

    @Option(help: "Seconds the guest gets to power off after SIGTERM presses its power button.")
    var shutdownTimeout = 5.0

    @Flag(name: .shortAndLong, help: "Log every unhandled device access and other details to stderr.")
    var verbose = false

    @Option(help: ArgumentHelp(
        "Serve the control protocol (status, pause, resume, shutdown, stop, reboot, snapshot) on a Unix socket.",
        valueName: "path"))
    var controlSocket: String?

    @Option(help: ArgumentHelp("Put the serial console on a Unix socket instead of standard input and output.",
                               valueName: "path"))
    var consoleSocket: String?

    @Option(help: ArgumentHelp("Write vmm's process id here once the VM runs.", valueName: "path"))
    var pidFile: String?

    @Option(help: ArgumentHelp("Write how vmm ended here, as one line of JSON.", valueName: "path"))
    var exitFile: String?

    func validate() throws {
        guard shutdownTimeout >= 0 && shutdownTimeout.isFinite else {
            throw ValidationError("--shutdown-timeout must be a number of seconds, 0 or more")
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
    func fail(_ message: String, status: Int32) -> Never {
        Logger().error(message)
        let reason: ExitReport.Reason = status == ExitStatus.badInput ? .badInput : .hostFailure
        Supervision(exitFile: exitFile).finish(ExitReport(reason: reason, status: status, message: message))
        Glibc.exit(status)
    }
}
