#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import KVM
import VMMCore

/// `vmm run`: boots a kernel and runs it in the foreground, serial console on stdio.
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

    @Flag(help: "Exit when the guest reboots instead of booting it again.")
    var noReboot = false

    @Option(help: "CPUID features to hide or show, e.g. -popcnt,+pcid.")
    var cpuFeatures = ""

    @Flag(help: "Leave out the i8254 PIT.")
    var noPit = false

    @Option(help: "Seconds the guest gets to power off after SIGTERM presses its power button.")
    var shutdownTimeout = 5.0

    @Flag(name: .shortAndLong, help: "Log every unhandled device access and other details to stderr.")
    var verbose = false

    func run() throws {
        var log = Logger()
        if verbose { log.minimumLevel = .debug }
        let configuration = try parseConfiguration()
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
        if MachineBuilder.isPVMHost {
            log.info(
                "PVM host: hiding CPU features its instruction emulator cannot run in guest kernel mode "
                    + "(\(CPUFeature.unsupportedOnPVM.filter { !configuration.cpuFeatures.shown.contains($0) }.joined(separator: ", ")))")
        }
        Glibc.exit(Session(builder: builder, configuration: configuration, inputs: inputs, log: log,
                     noReboot: noReboot, shutdownTimeout: shutdownTimeout).run())
    }

    private func parseConfiguration() throws -> MachineConfiguration {
        guard let memorySize = ByteSize.parse(memory) else {
            throw ValidationError("--memory '\(memory)' is not a size: use a number with K, M or G, e.g. 512M")
        }
        guard cpus >= 1 else { throw ValidationError("--cpus must be at least 1") }
        guard shutdownTimeout >= 0 && shutdownTimeout.isFinite else {
            throw ValidationError("--shutdown-timeout must be a number of seconds, 0 or more")
        }
        let features: CPUFeatureSelection
        do {
            features = try CPUFeatureSelection(parsing: cpuFeatures)
        } catch {
            throw ValidationError(error.description)
        }
        return MachineConfiguration(
            kernelPath: kernel, initrdPath: initrd, commandLine: commandLine, cpuCount: cpus,
            memorySize: memorySize, cpuFeatures: features, hasPIT: !noPit)
    }

    private func fail(_ message: String, status: Int32) -> Never {
        Logger().error(message)
        Glibc.exit(status)
    }
}
