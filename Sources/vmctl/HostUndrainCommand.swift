import ArgumentParser

/// `vmctl host undrain`: ends drain mode.
struct HostUndrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "undrain", abstract: "Let VMs start on this host again after a drain.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await global.client().post(Routes.host + "/undrain")
        print("host undrained: VMs may start here again")
    }
}
