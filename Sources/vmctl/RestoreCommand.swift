import ArgumentParser
import VMMAPI

/// `vmctl restore`: takes a VM back to one of its snapshots.
struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Take a VM back to one of its snapshots; it is running from that instant.",
        discussion: """
            A running or paused VM is stopped at once first; a stopped or crashed one is started. \
            Its writable disks get the snapshot's copies (unless it is memory-only). The VM keeps \
            its identity (MAC addresses, VM generation ID).
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: SnapshotNameArgument

    func run() async throws {
        try await global.client().post(Routes.action("restore", on: target.name), body: VMRestoreRequest(snapshot: target.snapshot))
        print("\(target.name) restored from snapshot \(target.snapshot)")
    }
}
