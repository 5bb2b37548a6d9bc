import ArgumentParser
import Sizes
import VMMAPI

/// `vmctl list`: every VM and its state.
struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the VMs with their state, vCPUs, memory and autostart.",
        discussion: "In a cluster: every VM of the cluster, with the host it runs on or is defined on (HOST). "
            + "--json prints the API's object: {\"vms\": [VMInfo, ...]}.")

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Print JSON (pretty, sorted keys).")
    var json = false

    func run() async throws {
        var list = try await global.client().get(Routes.vms, as: VMList.self)
        list.vms.sort { $0.definition.name < $1.definition.name }
        print(json ? try JSONOutput.document(list) : Self.table(list.vms))
    }

    /// The table; a HOST column when the daemon is in a cluster (its entries name hosts).
    static func table(_ vms: [VMInfo]) -> String {
        let clustered = vms.contains { $0.host != nil }
        return TextTable.columns(
            header: ["NAME"] + (clustered ? ["HOST"] : []) + ["STATE", "CPUS", "MEMORY", "AUTOSTART"],
            rows: vms.map { vm in
                [vm.definition.name] + (clustered ? [vm.host ?? "-"] : [])
                    + [vm.state.rawValue, String(vm.definition.cpus), ByteSize.format(vm.definition.memory),
                       vm.definition.autostart ? "yes" : "no"]
            })
    }
}
