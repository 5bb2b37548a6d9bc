import ArgumentParser
import Foundation
import VMMAPI

/// `vmctl migrate`: moves a running VM to another vmmd while it runs.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Move a running or paused VM to another vmmd (live migration).",
        discussion: """
            The VM's memory is copied while it runs, in rounds, until what is left fits in \
            --max-downtime; then it pauses, the rest is sent and it resumes on the destination. \
            Its definition moves with it. The destination must reach the same kernel and disk \
            paths (shared storage), or use --copy-storage to copy the writable disks too. Both \
            daemons must listen with TLS (vmmd --listen) on certificates of one CA. On a \
            terminal, shows rounds, bytes sent, bytes left and the expected downtime. If the \
            migration fails, the VM keeps running here. --json prints the API's \
            VMMigrationResult object.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var vm: VMNameArgument

    @Option(help: ArgumentHelp("The destination vmmd's TCP API address.", valueName: "host:port"))
    var to: String

    @Option(help: ArgumentHelp("The longest pause for the last pass, in ms (default 300).", valueName: "ms"))
    var maxDowntime: Int?

    @Option(help: ArgumentHelp("Cap the stream at this many 10^6 bits/s (default: no cap).", valueName: "mbps"))
    var bandwidth: Int?

    @Flag(help: "Copy the writable disks too (no shared storage).")
    var copyStorage = false

    @Flag(help: "Print JSON (pretty, sorted keys).")
    var json = false

    func validate() throws {
        if let maxDowntime, maxDowntime < 1 { throw ValidationError("--max-downtime must be at least 1 ms") }
        if let bandwidth, bandwidth < 1 { throw ValidationError("--bandwidth must be at least 1 Mbit/s (leave it out for no cap)") }
    }

    func run() async throws {
        let request = VMMigrateRequest(
            to: to, maxDowntimeMs: maxDowntime, bandwidthMbps: bandwidth, copyStorage: copyStorage ? true : nil)
        let progress = SnapshotProgress.isWanted && !json ? Task { await MigrationProgress(global: global, vm: vm.name).show() } : nil
        defer {
            if let progress {
                progress.cancel()
                SnapshotProgress.clearLine()
            }
        }
        let result = try await global.client().post(Routes.action("migrate", on: vm.name), body: request, as: VMMigrationResult.self)
        progress?.cancel()
        print(json ? try JSONOutput.document(result) : Self.summary(result))
    }

    static func summary(_ result: VMMigrationResult) -> String {
        let downtime = result.downtimeMs.map { ", guest paused \(SnapshotListCommand.milliseconds($0))" } ?? ""
        return "\(result.vm) migrated to \(result.to) in \(String(format: "%.1f", result.seconds)) s: "
            + "\(result.rounds) round\(result.rounds == 1 ? "" : "s"), \(MigrationProgress.bytes(result.bytesSent)) sent\(downtime)"
    }
}
