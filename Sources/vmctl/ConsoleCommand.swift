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
            ends and the output goes quiet. Attaching goes through vmmd's API (GET \
            /v1/vms/NAME/console/attach, switched to the console by HTTP/1.1 Upgrade), so it works \
            alike on the local socket and with --connect. Ends with status 0 when detached, when \
            input ended or when the VM stopped; 1 when the VM crashed or the connection was lost.
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
