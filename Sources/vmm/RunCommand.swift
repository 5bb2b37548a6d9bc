#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import KVM
import Sizes
import VMMCore

/// `vmm run`: boots a kernel and runs it in the foreground, serial console on stdio or,
/// under a supervisor, on a socket.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Boot a kernel; the guest's serial console is on standard input and output.",
        discussion: "In a terminal, Ctrl-A x quits and Ctrl-A Ctrl-A sends Ctrl-A to the guest.")

    @Option(help: "Kernel to boot: a Linux bzImage, an ELF vmlinux with a PVH note, or a Multiboot ELF.")
    var kernel: String

    @Option(help: "Initial ramdisk (a Multiboot module for Multiboot kernels).")
    var initrd: String?

    @Option(name: .customLong("cmdline"), help: "Kernel command line.")
    var commandLine = ""

    @Option(help: "Number of vCPUs.")
    var cpus = 1

    @Option(help: "Guest RAM, with a K, M, G or T suffix.")
    var memory = "256M"

    @Option(help: "CPUID features to hide or show, e.g. -popcnt,+pcid.")
    var cpuFeatures = ""

    @Flag(help: "Leave out the i8254 PIT.")
    var noPit = false

    @Flag(help: "On a PVM host, do not add the Linux kernel parameters that keep the guest off instructions the host cannot run.")
    var noPvmWorkarounds = false

    @Option(help: ArgumentHelp(
        "Attach a raw disk image (or block device) as a virtio-blk disk; repeatable, in order. "
            + "readonly (or readonly=on) attaches it read-only. The path cannot contain ','.",
        valueName: "path[,readonly]"))
    var disk: [String] = []

    @Option(help: ArgumentHelp(
        "Attach a virtio-net NIC to a tap; repeatable. tap=NAME uses the tap NAME (created for this run "
            + "if it does not exist); tap alone creates one named by the kernel. Without mac=, the address is "
            + "02:xx:xx:xx:xx:xx derived from the tap's name (the kernel's choice for tap alone).",
        valueName: "tap[=name][,mac=aa:bb:cc:dd:ee:ff]"))
    var net: [String] = []

    @Flag(help: "Leave out the virtio-rng entropy device.")
    var noRng = false

    @OptionGroup var supervisor: SupervisorOptions

    func run() throws {
        let log = supervisor.makeLogger()
        supervisor.removeStaleExitFile()
        let configuration: MachineConfiguration
        do {
            configuration = try parseConfiguration()
        } catch let error as ValidationError {
            fail(error.message, status: ExitStatus.badInput)
        }
        let kvm: KVMSystem
        do {
            kvm = try KVMSystem()
        } catch {
            fail(error.description, status: ExitStatus.hostFailure)
        }
        let builder = MachineBuilder(kvm: kvm, log: log)
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
            fail(error.description, status: error.isUserError ? ExitStatus.badInput : ExitStatus.hostFailure)
        }
        Glibc.exit(Session(builder: builder, configuration: configuration, inputs: inputs, log: log,
                           noReboot: supervisor.noReboot, shutdownTimeout: supervisor.shutdownTimeout,
                           supervision: supervision).run())
    }

    private func parseConfiguration() throws -> MachineConfiguration {
        guard let memorySize = ByteSize.parse(memory) else {
            throw ValidationError("--memory '\(memory)' is not a size: use a number with K, M or G, e.g. 512M")
        }
        guard cpus >= 1 else { throw ValidationError("--cpus must be at least 1") }
        let features: CPUFeatureSelection
        let disks: [DiskConfiguration]
        let networks: [NetworkConfiguration]
        do {
            features = try CPUFeatureSelection(parsing: cpuFeatures)
            disks = try DiskConfiguration.parsing(disk)
            networks = try NetworkConfiguration.parsing(net)
        } catch {
            throw ValidationError(error.description)
        }
        var configuration = MachineConfiguration(
            kernelPath: kernel, initrdPath: initrd, commandLine: commandLine, cpuCount: cpus,
            memorySize: memorySize, cpuFeatures: features, hasPIT: !noPit, disks: disks, networks: networks,
            hasEntropyDevice: !noRng)
        configuration.pvmWorkarounds = !noPvmWorkarounds
        return configuration
    }

    private func fail(_ message: String, status: Int32) -> Never { supervisor.fail(message, status: status) }
}
