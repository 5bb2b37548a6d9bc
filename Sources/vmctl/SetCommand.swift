import ArgumentParser
import DeviceOptions
import Sizes
import VMMAPI

/// `vmctl set NAME [--balloon SIZE] [--cpu-limit CPUS] [--cpu-weight N] [--memory-limit on|off]`:
/// a new balloon target or CPU and memory limits, on a running VM at once.
struct SetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Change a VM's settings; a running VM takes a new balloon size or new limits at once.",
        discussion: "--balloon SIZE asks the guest to give SIZE of its RAM back to the host (0 empties the "
            + "balloon); the VM's definition keeps it for the next start. A VM defined without a balloon gets "
            + "one while it is stopped. The limits go to the VM's cgroup; the others stay as they were. "
            + "Give the balloon and the limits in separate calls.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var vm: VMNameArgument

    @OptionGroup var limits: LimitOptions

    @Option(help: "Memory the balloon takes from the guest (0, or a size such as 256M).")
    var balloon: String?

    func validate() throws {
        guard (balloon == nil) != limits.isEmpty else {
            throw ValidationError("give --balloon SIZE, or any of --cpu-limit, --cpu-weight, --memory-limit (not both)")
        }
        guard let balloon else { return }
        guard BalloonOption.parseSize(balloon) != nil else {
            throw ValidationError("--balloon '\(balloon)' is not a size: use 0, bytes or a number with K, M, G or T, e.g. 512M")
        }
    }

    func run() async throws {
        guard let balloon else { return try await setLimits() }
        let patch = VMDefinitionPatch(balloon: VMBalloonPatch(target: BalloonOption.parseSize(balloon)!))
        let info = try await global.client().patch(Routes.vm(vm.name), body: patch, as: VMInfo.self)
        let target = info.definition.balloon?.target ?? 0
        print("\(vm.name): balloon target \(target == 0 ? "0" : ByteSize.format(target))")
    }

    private func setLimits() async throws {
        let client = try global.client()
        let current = try await client.get(Routes.vm(vm.name), as: VMInfo.self).definition.limits
        let patch = VMDefinitionPatch(limits: limits.applied(to: current) ?? VMLimits())
        let limits = try await client.patch(Routes.vm(vm.name), body: patch, as: VMInfo.self).definition.limits
        let cpus = limits?.cpus.map { "\($0) CPUs" } ?? "no cap"
        print("\(vm.name): cpu \(cpus), weight \(limits?.cpuWeight ?? 100), memory limit \(limits?.memoryLimit == true ? "on" : "off")")
    }
}
