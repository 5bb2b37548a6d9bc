import ArgumentParser
import Foundation

/// `vmctl console`: the serial console, live or as logged.
struct ConsoleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "Attach to a running VM's serial console, or print its log.",
        discussion: """
            In a terminal, Ctrl-] detaches and the VM keeps running. From a pipe, vmctl sends \
            standard input to the console and prints the console's output until standard input \
            ends and the output goes quiet. vmctl connects to the console socket \
            <runtime-dir>/vms/NAME/console.sock directly.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var vm: VMNameArgument

    @Flag(help: "Print the console output vmmd logged instead of attaching.")
    var log = false

    func run() async throws {
        if log {
            let response = try await global.client().get(Routes.action("console", on: vm.name))
            FileHandle.standardOutput.write(Data(response.body))
        } else {
            try await ConsoleAttachment(global: global, name: vm.name).run()
        }
    }
}
