import ArgumentParser

/// `vmctl snapshot`: the snapshots of a VM.
struct SnapshotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Take, list and delete snapshots of a VM.",
        discussion: """
            A snapshot holds a running or paused VM's whole state (vCPUs, devices, memory) and \
            copies of its writable disks (none with --memory-only), in vmmd's state folder. \
            vmctl restore NAME SNAP takes the VM back to it; vmctl clone NAME NEW --snapshot SNAP \
            makes a new VM from it.
            """,
        subcommands: [SnapshotCreateCommand.self, SnapshotListCommand.self, SnapshotDeleteCommand.self])
}
