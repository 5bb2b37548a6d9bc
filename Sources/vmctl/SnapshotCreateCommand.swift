import ArgumentParser
import Sizes
import VMMAPI

/// `vmctl snapshot create`: snapshots a running or paused VM.
struct SnapshotCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Snapshot a running or paused VM; it carries on as it was.",
        discussion: """
            Prints the size on disk and how long the guest was paused; on a terminal, shows \
            the bytes written while the snapshot is taken. --memory-only skips the \
            disk copies: restoring it uses the disks as they are then. --json prints the API's \
            VMSnapshot object.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: SnapshotNameArgument

    @Flag(help: "Do not copy the VM's writable disks.")
    var memoryOnly = false

    @Flag(help: "Print JSON (pretty, sorted keys).")
    var json = false

    func run() async throws {
        let request = VMSnapshotRequest(name: target.snapshot, memoryOnly: memoryOnly ? true : nil)
        let client = try global.client()
        let progress = SnapshotProgress.isWanted && !json
            ? Task { await SnapshotProgress(client: client, vm: target.name, snapshot: target.snapshot).show() }
            : nil
        defer {
            if let progress {
                progress.cancel()
                SnapshotProgress.clearLine()
            }
        }
        let snapshot = try await client.post(Routes.snapshots(target.name), body: request, as: VMSnapshot.self)
        print(json ? try JSONOutput.document(snapshot) : Self.summary(snapshot))
    }

    static func summary(_ snapshot: VMSnapshot) -> String {
        "snapshot \(snapshot.name) of \(snapshot.vm) taken: \(ByteSize.format(snapshot.bytes)) on disk"
            + (snapshot.memoryOnly ? " (memory only)" : "") + ", guest paused \(SnapshotListCommand.milliseconds(snapshot.pausedMs))"
    }
}
