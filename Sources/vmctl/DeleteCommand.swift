import ArgumentParser

/// `vmctl delete`: removes a VM's definition.
struct DeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete a stopped VM's definition.",
        discussion: "A VM that runs is refused unless --force, which stops it at once first.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var vm: VMNameArgument

    @Flag(help: "Stop the VM at once if it runs, then delete it.")
    var force = false

    func run() async throws {
        try await global.client().delete(Routes.vm(vm.name) + (force ? "?force=true" : ""))
        print("\(vm.name) deleted")
    }
}
