import ArgumentParser
import DeviceOptions
import Sizes
import VMMAPI

/// `vmctl set NAME --balloon SIZE`: a new balloon target, on a running VM at once.
struct SetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Change a VM's settings; a running VM takes a new balloon size at once.",
        discussion: "--balloon SIZE asks the guest to give SIZE of its RAM back to the host (0 empties the "
            + "balloon); the VM's definition keeps it for the next start. A VM defined without a balloon gets "
            + "one while it is stopped.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var vm: VMNameArgument

    @Option(help: "Memory the balloon takes from the guest (0, or a size such as 256M).")
    var balloon: String

    func validate() throws {
        guard BalloonOption.parseSize(balloon) != nil else {
            throw ValidationError("--balloon '\(balloon)' is not a size: use 0, bytes or a number with K, M, G or T, e.g. 512M")
        }
    }

    func run() async throws {
        let patch = VMDefinitionPatch(balloon: VMBalloonPatch(target: BalloonOption.parseSize(balloon)!))
        let info = try await global.client().patch(Routes.vm(vm.name), body: patch, as: VMInfo.self)
        let target = info.definition.balloon?.target ?? 0
        print("\(vm.name): balloon target \(target == 0 ? "0" : ByteSize.format(target))")
    }
}
