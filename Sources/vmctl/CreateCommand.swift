import ArgumentParser
import DeviceOptions
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
    @OptionGroup var limits: LimitOptions

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

    @Option(help: ArgumentHelp(
        "Attach a raw disk image (or block device) as a virtio-blk disk; repeatable, in order. "
            + "readonly (or readonly=on) attaches it read-only. The path cannot contain ','. bps (bytes, "
            + "K/M/G suffixes) and iops (requests) per second limit it, each with a burst (bps-burst, iops-burst).",
        valueName: "path[,readonly][,bps=B][,iops=N]"))
    var disk: [String] = []

    @Option(help: ArgumentHelp(
        "Attach a virtio-net NIC to a tap; repeatable. tap=NAME uses the tap NAME (created while the VM runs "
            + "if it does not exist); tap alone creates one named by the kernel. Without mac=, vmmd assigns "
            + "a stable 02:xx:xx:xx:xx:xx address (vmctl info shows it). rx-bps, rx-pps, tx-bps and tx-pps limit "
            + "bytes and frames per second the guest receives and sends, each with a -burst.",
        valueName: "tap[=name][,mac=aa:bb:cc:dd:ee:ff][,tx-bps=B]..."))
    var net: [String] = []

    @Flag(help: "In a cluster, restart the VM on another host when its host fails.")
    var ha = false

    @Option(help: ArgumentHelp("Restart priority among HA VMs: higher restarts first (-1000 to 1000).", valueName: "n"))
    var haPriority = 0

    @Option(help: ArgumentHelp(
        "In a cluster, the host to define the VM on (default: the one with the most free capacity).", valueName: "name"))
    var host: String?

    @Flag(help: "Leave out the virtio-rng entropy device.")
    var noRng = false

    @Flag(help: "Let the host merge the guest's pages with identical ones (KSM; vmmd --enable-ksm turns it on).")
    var mergePages = false

    @Option(help: ArgumentHelp(
        "Add a virtio-balloon device holding SIZE of the guest's RAM (0 for none yet; vmctl set changes it "
            + "while the VM runs). Deflate-on-OOM and free page reporting are on unless turned off.",
        valueName: "size[,deflate-on-oom=off][,free-page-reporting=off]"))
    var balloon: String?

    func validate() throws {
        guard cpus >= 1 else { throw ValidationError("--cpus must be at least 1") }
        guard VMDefinition.haPriorityRange.contains(haPriority) else { throw ValidationError("--ha-priority must be -1000 to 1000") }
        guard ByteSize.parse(memory) != nil else {
            throw ValidationError("--memory '\(memory)' is not a size: use bytes or a number with K, M, G or T, e.g. 512M")
        }
        _ = try disks()
        _ = try networks()
        _ = try balloonDevice()
    }

    func run() async throws {
        let definition = VMDefinition(
            name: vm.name, cpus: cpus, memory: ByteSize.parse(memory)!, kernel: PathResolution.absolute(kernel),
            initrd: initrd.map { PathResolution.absolute($0) }, cmdline: commandLine, autostart: autostart,
            disks: try disks(), networks: try networks(), rng: !noRng, balloon: try balloonDevice(), ha: ha,
            haPriority: haPriority,
            mergePages: mergePages, limits: limits.applied(to: nil))
        let info = try await global.client().post(Routes.vms, body: VMCreateRequest(definition, host: host), as: VMInfo.self)
        print("created \(vm.name)\(info.host.map { " on host \($0)" } ?? "")")
    }

    /// The `--disk` values, paths made absolute; a usage error for a value vmm would refuse.
    func disks() throws -> [VMDisk] {
        do {
            let options = try disk.map { (text) throws(DeviceOptionError) in
                let option = try DiskOption(parsing: text)
                return DiskOption(
                    path: PathResolution.absolute(option.path), readOnly: option.readOnly, rateLimit: option.rateLimit)
            }
            try DiskOption.checkUnique(options)
            return options.map { VMDisk(path: $0.path, readOnly: $0.readOnly, rateLimit: VMRateLimit($0.rateLimit)) }
        } catch {
            throw ValidationError(error.message)
        }
    }

    /// The `--balloon` value; `stats=` is vmm's alone, so a definition does not take it.
    func balloonDevice() throws -> VMBalloon? {
        guard let balloon else { return nil }
        do throws(DeviceOptionError) {
            let option = try BalloonOption(parsing: balloon)
            guard option.statisticsInterval == BalloonOption.defaultStatisticsInterval else {
                throw DeviceOptionError("--balloon '\(balloon)': stats= is not a setting of a definition")
            }
            return VMBalloon(
                target: option.target, deflateOnOOM: option.deflateOnOOM, freePageReporting: option.freePageReporting)
        } catch {
            throw ValidationError(error.message)
        }
    }

    /// The `--net` values; a usage error for a value vmm would refuse.
    func networks() throws -> [VMNetwork] {
        do {
            let options = try net.map { (text) throws(DeviceOptionError) in try NetworkOption(parsing: text) }
            try NetworkOption.checkUnique(options)
            return options.map {
                VMNetwork(
                    tap: $0.tapName, mac: $0.macAddress.map(MACAddressSyntax.format),
                    receiveLimit: VMRateLimit($0.receiveLimit), transmitLimit: VMRateLimit($0.transmitLimit))
            }
        } catch {
            throw ValidationError(error.message)
        }
    }
}
