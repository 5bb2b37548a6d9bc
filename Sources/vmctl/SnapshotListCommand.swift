import ArgumentParser
import Sizes
import VMMAPI

/// `vmctl snapshot list`: a VM's snapshots.
struct SnapshotListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List a VM's snapshots, oldest first.",
        discussion: "--json prints the API's object: {\"snapshots\": [VMSnapshot, ...]}.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var vm: VMNameArgument

    @Flag(help: "Print JSON (pretty, sorted keys).")
    var json = false

    func run() async throws {
        let list = try await global.client().get(Routes.snapshots(vm.name), as: VMSnapshotList.self)
        print(json ? try JSONOutput.document(list) : Self.table(list.snapshots))
    }

    static func table(_ snapshots: [VMSnapshot]) -> String {
        TextTable.columns(
            header: ["NAME", "CREATED", "STATE", "SIZE", "PAUSED", "DISKS"],
            rows: snapshots.map { snapshot in
                [snapshot.name, snapshot.created, snapshot.state.rawValue, ByteSize.format(snapshot.bytes),
                 milliseconds(snapshot.pausedMs), snapshot.memoryOnly ? "no" : "yes"]
            })
    }

    /// `1.8 ms`.
    static func milliseconds(_ value: Double) -> String {
        let tenths = (value * 10).rounded()
        return "\(Int(tenths) / 10).\(Int(tenths) % 10) ms"
    }
}
