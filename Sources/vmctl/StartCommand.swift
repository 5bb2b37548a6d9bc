import ArgumentParser

/// `vmctl start`: boots a VM, optionally attaching to its console.
struct StartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Start a stopped or crashed VM.",
        discussion: "With --console, attach to its serial console once started (Ctrl-] detaches; the VM keeps running).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var vm: VMNameArgument

    @Flag(help: "Attach to the VM's serial console once it started.")
    var console = false

    func run() async throws {
        let client = try global.client()
        try await client.post(Routes.action("start", on: vm.name))
        if console {
            try await ConsoleAttachment(global: global, name: vm.name).run()
        } else {
            print("\(vm.name) started")
        }
    }
}
