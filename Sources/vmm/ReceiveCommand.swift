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
        static let kernel = OptionDefinition.option(
            "kernel", valueName: "path",
            help: "Boot from this kernel file on a guest reboot instead of the source's path; read before anything "
                + "else (a jailed vmm reaches no other path later).")
        static let initrd = OptionDefinition.option(
            "initrd", valueName: "path", help: "The same for the initrd.")
        static let mergePages = OptionDefinition.flag(
            "merge-pages",
            help: "Let the host kernel merge the guest's pages with identical pages elsewhere (KSM: guest RAM is "
                + "private anonymous memory marked MADV_MERGEABLE; merging happens while /sys/kernel/mm/ksm/run is 1).")
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
        options: [Option.incoming, Option.disk, Option.net, Option.kernel, Option.initrd, Option.mergePages,
                  Option.connectTimeout]
            + SupervisorOptions.Option.all + JailOptions.Option.all)

    let incoming: String
    let disk: [String]
    let net: [String]
    let kernel: String?
    let initrd: String?
    let connectTimeout: Double
    let mergePages: Bool
    let supervisor: SupervisorOptions
    let jail: JailOptions

    init(_ parsed: ParsedArguments) throws(UsageError) {
        incoming = try parsed.value(Option.incoming, as: String.self)
        disk = parsed.values(Option.disk)
        net = parsed.values(Option.net)
        connectTimeout = try parsed.value(Option.connectTimeout, as: Double.self)
        mergePages = parsed.flag(Option.mergePages)
        guard connectTimeout > 0 && connectTimeout.isFinite else {
            throw UsageError("--connect-timeout must be a number of seconds above 0", commandName: parsed.commandName)
        }
        kernel = parsed.value(Option.kernel)
        initrd = parsed.value(Option.initrd)
        supervisor = try SupervisorOptions(parsed)
        jail = try JailOptions(parsed)
        if let jail = jail.jail {
            guard jail.insidePath(incoming) != nil else {
                throw UsageError("--incoming '\(incoming)' must be inside --jail '\(jail.root)': the jailed vmm reaches nothing else",
                                 commandName: parsed.commandName)
            }
            guard kernel != nil else {
                throw UsageError("--jail needs --kernel: the jailed vmm cannot reach the kernel path the source names",
                                 commandName: parsed.commandName)
            }
        }
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
                disks: try DiskConfiguration.parsing(disk), networks: try NetworkConfiguration.parsing(net), of: "the VM",
                kernelPath: kernel, initrdPath: initrd)
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
        if let jail = jail.jail {
            do throws(VMMError) {
                try openAhead(overrides)
            } catch {
                log.error(error.description)
                listener.remove()
                let report = ExitReport(failure: error)
                supervision.finish(report)
                Glibc.exit(report.status)
            }
            let inside = listener.reached(at: jail.insidePath(incoming) ?? incoming) ?? listener
            jail.enter(supervision) { supervision in receive(on: inside, supervision, builder, overrides, log) }
        }
        receive(on: listener, supervision, builder, overrides, log)
    }

    private func receive(
        on listener: UnixListener, _ supervision: Supervision, _ builder: MachineBuilder, _ overrides: DeviceOverrides, _ log: Logger
    ) -> Never {
        let receiver = MigrationReceiver(listener: listener, builder: builder, connectTimeout: connectTimeout)
        let mergePages = mergePages
        let status = Session(
            builder: builder, configuration: nil, inputs: nil, log: log,
            noReboot: supervisor.noReboot, shutdownTimeout: supervisor.shutdownTimeout, seccomp: supervisor.seccomp,
            supervision: supervision,
            start: .incoming(receiver, configure: { description throws(VMMError) in
                var configuration = try overrides.apply(to: description.configuration)
                if mergePages { configuration.mergePages = true }
                return configuration
            })
        ).run()
        listener.remove()
        Glibc.exit(status)
    }

    /// What the VM will use and a jailed vmm can no longer reach by path or create: the
    /// kernel and initrd, the `--disk` images (copy-storage writes through them) and the
    /// `--net` taps. Without `--disk`/`--kernel` the stream's paths are used, which the jail
    /// does not reach: the VM is refused then.
    private func openAhead(_ overrides: DeviceOverrides) throws(VMMError) {
        if let kernel { try OpenedAhead.open(kernel, readOnly: true, what: "kernel") }
        if let initrd { try OpenedAhead.open(initrd, readOnly: true, what: "initrd") }
        for disk in overrides.disks { try OpenedAhead.open(disk.path, readOnly: disk.readOnly, what: "disk image") }
        for network in overrides.networks {
            if let tap = network.tapName { try OpenedAhead.openTap(tap) }
        }
    }
}
