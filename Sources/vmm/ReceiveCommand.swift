#if canImport(Glibc)
import Glibc
#endif
import CommandLineOptions
import KVM
import VMMCore

/// `vmm receive --incoming PATH`: runs a VM that migrates here from another vmm.
struct ReceiveCommand {
    /// The options' declarations.
    enum Option {
        static let incoming = OptionDefinition.option(
            "incoming", valueName: "path", required: true,
            help: "Listen on this Unix socket (mode 0600) for the migration stream; one source connects.")
        static let disk = OptionDefinition.option(
            "disk", valueName: "path[,readonly]", repeatable: true,
            help: "Put disk i of the VM at this path instead of the source's; give all of them or none, in order. "
                + "With copy-storage the image must exist here with the source's size.")
        static let net = OptionDefinition.option(
            "net", valueName: "tap[=name][,mac=aa:bb:cc:dd:ee:ff]", repeatable: true,
            help: "Attach NIC i to this tap and MAC instead of the source's; give all of them or none, in order.")
        static let connectTimeout = OptionDefinition.option(
            "connect-timeout", default: "60",
            help: "Seconds to wait for the source to connect; then vmm gives up (exit reason 'migration-failed'), "
                + "so a migration whose source never came leaves nothing waiting.")
    }

    static let definition = CommandDefinition(
        name: "receive",
        abstract: "Run a VM migrating here: wait for the stream of the control request 'migrate PATH'.",
        discussion: "The VM is built from the stream and runs once the source commits; the pid file appears "
            + "then. If the stream ends, is refused or is damaged before, the guest never ran here and vmm "
            + "exits with status 3 (2 when the VM cannot run on this host: kernel file, CPU features, disks), "
            + "exit reason 'migration-failed'. Afterwards the exit statuses are those of 'vmm run'.",
        options: [Option.incoming, Option.disk, Option.net, Option.connectTimeout] + SupervisorOptions.Option.all)

    let incoming: String
    let disk: [String]
    let net: [String]
    let connectTimeout: Double
    let supervisor: SupervisorOptions

    init(_ parsed: ParsedArguments) throws(UsageError) {
        incoming = try parsed.value(Option.incoming, as: String.self)
        disk = parsed.values(Option.disk)
        net = parsed.values(Option.net)
        connectTimeout = try parsed.value(Option.connectTimeout, as: Double.self)
        guard connectTimeout > 0 && connectTimeout.isFinite else {
            throw UsageError("--connect-timeout must be a number of seconds above 0", commandName: parsed.commandName)
        }
        supervisor = try SupervisorOptions(parsed)
    }

    func run() -> Never {
        let log = supervisor.makeLogger()
        supervisor.removeStaleExitFile()
        let overrides: DeviceOverrides
        do throws(VMMError) {
            guard incoming.hasPrefix("/") else {
                throw .invalidConfiguration("--incoming '\(incoming)' is not an absolute path")
            }
            overrides = DeviceOverrides(
                disks: try DiskConfiguration.parsing(disk), networks: try NetworkConfiguration.parsing(net), of: "the VM")
        } catch {
            supervisor.fail(error.description, status: ExitStatus.badInput)
        }
        let builder = supervisor.makeMachineBuilder(log: log)
        let supervision: Supervision
        let listener: UnixListener
        do throws(VMMError) {
            supervision = try supervisor.makeSupervision(log: log)
            do throws(VMMError) {
                listener = try UnixListener(path: incoming, what: "--incoming")
            } catch {
                supervision.finish(ExitReport(failure: error))
                throw error
            }
        } catch {
            supervisor.fail(error)
        }
        let receiver = MigrationReceiver(listener: listener, builder: builder, connectTimeout: connectTimeout)
        let status = Session(
            builder: builder, configuration: nil, inputs: nil, log: log,
            noReboot: supervisor.noReboot, shutdownTimeout: supervisor.shutdownTimeout, seccomp: supervisor.seccomp,
            supervision: supervision,
            start: .incoming(receiver, configure: { description throws(VMMError) in try overrides.apply(to: description.configuration) })
        ).run()
        listener.remove()
        Glibc.exit(status)
    }
}
