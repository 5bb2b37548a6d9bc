#if canImport(Glibc)
import Glibc
#endif
import CommandLineOptions
import KVM
import Sizes
import VMMCore

/// `vmm run`: boots a kernel and runs it in the foreground, serial console on stdio or,
/// under a supervisor, on a socket.
struct RunCommand {
    /// The options' declarations.
    enum Option {
        static let kernel = OptionDefinition.option(
            "kernel", required: true,
            help: "Kernel to boot: a Linux bzImage, an ELF vmlinux with a PVH note, or a Multiboot ELF.")
        static let initrd = OptionDefinition.option(
            "initrd", help: "Initial ramdisk (a Multiboot module for Multiboot kernels).")
        static let commandLine = OptionDefinition.option("cmdline", default: "", help: "Kernel command line.")
        static let cpus = OptionDefinition.option("cpus", default: "1", help: "Number of vCPUs.")
        static let memory = OptionDefinition.option(
            "memory", default: "256M", help: "Guest RAM, with a K, M, G or T suffix.")
        static let cpuFeatures = OptionDefinition.option(
            "cpu-features", default: "", help: "CPUID features to hide or show, e.g. -popcnt,+pcid.")
        static let noPit = OptionDefinition.flag("no-pit", help: "Leave out the i8254 PIT.")
        static let noPvmWorkarounds = OptionDefinition.flag(
            "no-pvm-workarounds",
            help: "On a PVM host, do not add the Linux kernel parameters that keep the guest off instructions "
                + "the host cannot run.")
        static let disk = OptionDefinition.option(
            "disk", valueName: "path[,readonly][,bps=B][,iops=N]", repeatable: true,
            help: "Attach a raw disk image (or block device) as a virtio-blk disk; repeatable, in order. "
                + "readonly (or readonly=on) attaches it read-only. The path cannot contain ','. bps (bytes, "
                + "K/M/G suffixes) and iops (requests) per second limit the disk, each with a burst (bps-burst, "
                + "iops-burst; default a tenth of a second's worth); the control request 'limit disk' changes them.")
        static let net = OptionDefinition.option(
            "net", valueName: "tap[=name][,mac=aa:bb:cc:dd:ee:ff]", repeatable: true,
            help: "Attach a virtio-net NIC to a tap; repeatable. tap=NAME uses the tap NAME (created for this run "
                + "if it does not exist); tap alone creates one named by the kernel. Without mac=, the address is "
                + "02:xx:xx:xx:xx:xx derived from the tap's name (the kernel's choice for tap alone). rx-bps, "
                + "rx-pps, tx-bps and tx-pps limit bytes and frames per second the guest receives (rx) and sends "
                + "(tx), each with a -burst; the control request 'limit net' changes them.")
        static let noRng = OptionDefinition.flag("no-rng", help: "Leave out the virtio-rng entropy device.")
        static let mergePages = OptionDefinition.flag(
            "merge-pages",
            help: "Let the host kernel merge guest pages that are identical to other pages (KSM: guest RAM is "
                + "private anonymous memory marked MADV_MERGEABLE; merging happens while /sys/kernel/mm/ksm/run is 1).")
        static let balloon = OptionDefinition.option(
            "balloon", valueName: "size[,deflate-on-oom=off][,free-page-reporting=off][,stats=seconds]",
            help: "Add a virtio-balloon device holding SIZE of the guest's RAM (0 for none yet; the control "
                + "request 'balloon SIZE' changes it while the VM runs). Pages in the balloon, and free pages the "
                + "guest reports (free-page-reporting, on by default), are given back to the host. With "
                + "deflate-on-oom (on by default) the guest takes pages back when it runs out of memory. "
                + "stats is how often the guest is asked for its memory statistics (default 5, 0 once).")
    }

    static let definition = CommandDefinition(
        name: "run",
        abstract: "Boot a kernel; the guest's serial console is on standard input and output.",
        discussion: "In a terminal, Ctrl-A x quits and Ctrl-A Ctrl-A sends Ctrl-A to the guest.",
        options: [
            Option.kernel, Option.initrd, Option.commandLine, Option.cpus, Option.memory, Option.cpuFeatures,
            Option.noPit, Option.noPvmWorkarounds, Option.disk, Option.net, Option.noRng, Option.balloon,
            Option.mergePages,
        ] + SupervisorOptions.Option.all + JailOptions.Option.all)

    let kernel: String
    let initrd: String?
    let commandLine: String
    let cpus: Int
    let memory: String
    let cpuFeatures: String
    let noPit: Bool
    let noPvmWorkarounds: Bool
    let disk: [String]
    let net: [String]
    let noRng: Bool
    let balloon: String?
    let mergePages: Bool
    let supervisor: SupervisorOptions
    let jail: JailOptions

    init(_ parsed: ParsedArguments) throws(UsageError) {
        kernel = try parsed.value(Option.kernel, as: String.self)
        initrd = parsed.value(Option.initrd)
        commandLine = try parsed.value(Option.commandLine, as: String.self)
        cpus = try parsed.value(Option.cpus, as: Int.self)
        memory = try parsed.value(Option.memory, as: String.self)
        cpuFeatures = try parsed.value(Option.cpuFeatures, as: String.self)
        noPit = parsed.flag(Option.noPit)
        noPvmWorkarounds = parsed.flag(Option.noPvmWorkarounds)
        disk = parsed.values(Option.disk)
        net = parsed.values(Option.net)
        noRng = parsed.flag(Option.noRng)
        balloon = parsed.value(Option.balloon)
        mergePages = parsed.flag(Option.mergePages)
        supervisor = try SupervisorOptions(parsed)
        jail = try JailOptions(parsed)
    }

    func run() -> Never {
        let log = supervisor.makeLogger()
        supervisor.removeStaleExitFile()
        let configuration: MachineConfiguration
        do {
            configuration = try parseConfiguration()
        } catch {
            fail(error.description, status: ExitStatus.badInput)
        }
        let builder = supervisor.makeMachineBuilder(log: log)
        let inputs: MachineBuilder.Inputs
        do {
            inputs = try builder.validate(configuration)
        } catch {
            fail(error.description, status: ExitStatus.badInput)
        }
        let supervision: Supervision
        do {
            supervision = try supervisor.makeSupervision(log: log)
        } catch {
            supervisor.fail(error)
        }
        let (noReboot, shutdownTimeout, seccomp) = (supervisor.noReboot, supervisor.shutdownTimeout, supervisor.seccomp)
        let session = { @Sendable (supervision: Supervision) -> Never in
            Glibc.exit(Session(builder: builder, configuration: configuration, inputs: inputs, log: log,
                               noReboot: noReboot, shutdownTimeout: shutdownTimeout, seccomp: seccomp,
                               supervision: supervision).run())
        }
        if let jail = jail.jail { jail.enter(supervision, then: session) }
        session(supervision)
    }

    private func parseConfiguration() throws(VMMError) -> MachineConfiguration {
        guard let memorySize = ByteSize.parse(memory) else {
            throw .invalidConfiguration("--memory '\(memory)' is not a size: use a number with K, M or G, e.g. 512M")
        }
        guard cpus >= 1 else { throw .invalidConfiguration("--cpus must be at least 1") }
        let features = try CPUFeatureSelection(parsing: cpuFeatures)
        let disks = try DiskConfiguration.parsing(disk)
        let networks = try NetworkConfiguration.parsing(net)
        var configuration = MachineConfiguration(
            kernelPath: kernel, initrdPath: initrd, commandLine: commandLine, cpuCount: cpus,
            memorySize: memorySize, cpuFeatures: features, hasPIT: !noPit, disks: disks, networks: networks,
            hasEntropyDevice: !noRng)
        configuration.pvmWorkarounds = !noPvmWorkarounds
        configuration.mergePages = mergePages
        if let balloon { configuration.balloon = try BalloonConfiguration.parsing(balloon) }
        return configuration
    }

    private func fail(_ message: String, status: Int32) -> Never { supervisor.fail(message, status: status) }
}
