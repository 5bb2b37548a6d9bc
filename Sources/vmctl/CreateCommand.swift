import ArgumentParser
import Sizes
import VMMAPI

/// `vmctl create`: defines a VM.
struct CreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Define a new VM; it starts stopped (and with vmmd when --autostart).",
        discussion: "Relative paths are made absolute against the current folder; vmmd opens them as root.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var vm: VMNameArgument

    @Option(help: "Kernel to boot: a Linux bzImage, an ELF vmlinux with a PVH note, or a Multiboot ELF.")
    var kernel: String

    @Option(help: "Initial ramdisk.")
    var initrd: String?

    @Option(name: .customLong("cmdline"), help: "Kernel command line.")
    var commandLine = ""

    @Option(help: "Number of vCPUs.")
    var cpus = VMDefinition.defaultCPUs

    @Option(help: "Guest RAM: bytes, or a number with K, M, G or T (e.g. 512M).")
    var memory = ByteSize.format(VMDefinition.defaultMemory)

    @Flag(help: "Start the VM whenever vmmd starts.")
    var autostart = false

    func validate() throws {
        guard cpus >= 1 else { throw ValidationError("--cpus must be at least 1") }
        guard ByteSize.parse(memory) != nil else {
            throw ValidationError("--memory '\(memory)' is not a size: use bytes or a number with K, M, G or T, e.g. 512M")
        }
    }

    func run() async throws {
        let definition = VMDefinition(
            name: vm.name, cpus: cpus, memory: ByteSize.parse(memory)!, kernel: PathResolution.absolute(kernel),
            initrd: initrd.map { PathResolution.absolute($0) }, cmdline: commandLine, autostart: autostart)
        try await global.client().post(Routes.vms, body: definition)
        print("created \(vm.name)")
    }
}
