import ArgumentParser

/// A command that posts one body-less action to a VM (`POST /v1/vms/{name}/{action}`).
protocol VMActionCommand: AsyncParsableCommand {
    /// The action's path component, e.g. `pause`.
    static var action: String { get }
    /// What to print once vmmd accepted it, after the VM's name, e.g. `paused`.
    static var done: String { get }
    var global: GlobalOptions { get }
    var vm: VMNameArgument { get }
}

extension VMActionCommand {
    func run() async throws {
        try await global.client().post(Routes.action(Self.action, on: vm.name))
        print("\(vm.name) \(Self.done)")
    }
}
