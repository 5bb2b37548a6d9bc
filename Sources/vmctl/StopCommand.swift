import ArgumentParser
import VMMAPI

/// `vmctl stop`: powers a VM off.
struct StopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "Stop a VM: press its power button, and stop it outright if it ignores that.",
        discussion: """
            The guest gets --timeout seconds to power off (default \(Int(VMStopRequest.defaultTimeout))) \
            before vmmd stops it; --force stops it at once.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var vm: VMNameArgument

    @Flag(help: "Stop at once, without asking the guest.")
    var force = false

    @Option(help: ArgumentHelp("Seconds the guest gets to power off.", valueName: "seconds"))
    var timeout: Double?

    func validate() throws {
        if let timeout, !(timeout >= 0 && timeout.isFinite) {
            throw ValidationError("--timeout must be a number of seconds, 0 or more")
        }
    }

    func run() async throws {
        let request = VMStopRequest(force: force ? true : nil, timeout: timeout)
        try await global.client().post(Routes.action("stop", on: vm.name), body: request)
        print("\(vm.name) stopped")
    }
}
