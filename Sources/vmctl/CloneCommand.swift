import ArgumentParser
import VMMAPI

/// `vmctl clone`: a new VM made from another.
struct CloneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clone",
        abstract: "Make a new VM from a VM: its own disk copies, MAC addresses and taps.",
        discussion: """
            With --snapshot, the clone starts from that snapshot of NAME (with a new VM \
            generation ID). Without, a stopped VM's disks are copied as they are; a running or \
            paused VM is snapshotted for the clone first (snapshot clone-NEW, deleted once the \
            clone has started). Writable disks are copied into vmmd's state folder (a reflink \
            where the file system can); read-only disks are shared. NICs get taps the kernel \
            names and new MAC addresses.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var vm: VMNameArgument

    @Argument(help: "The new VM's name.")
    var new: String

    @Option(help: ArgumentHelp("Start from this snapshot of the VM.", valueName: "snapshot"))
    var snapshot: String?

    @Flag(help: "Start the clone at once.")
    var start = false

    func validate() throws {
        try VMNameArgument.check(new, "VM name")
        if let snapshot { try VMNameArgument.check(snapshot, "snapshot name") }
    }

    func run() async throws {
        let request = VMCloneRequest(name: new, snapshot: snapshot, start: start ? true : nil)
        let info = try await global.client().post(Routes.action("clone", on: vm.name), body: request, as: VMInfo.self)
        let origin = info.definition.restoreFrom.map { " from snapshot \($0.snapshot)" } ?? (snapshot.map { " from snapshot \($0)" } ?? "")
        print("created \(new), a clone of \(vm.name)\(origin)\(start ? "; \(info.state.rawValue)" : "")")
    }
}
