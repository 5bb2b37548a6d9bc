import ArgumentParser
import Foundation
import VMMAPI

/// `vmctl host drain`: moves every VM off this host.
struct HostDrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drain",
        abstract: "Move every VM to other vmmds and keep VMs from starting here.",
        discussion: """
            Each running VM migrates live to the destination with the most available memory \
            (--parallel at a time); a stopped VM's definition moves where its kernel and disks \
            are at the same paths (shared storage). In a cluster, without --to, the destinations \
            are the cluster's other hosts that are not draining (the most free capacity first). Until vmctl host undrain, starts here are \
            refused. Prints each VM's outcome; a VM that could not move keeps running here, and \
            the exit status is then 1. --json prints the API's HostDrainReport object.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp(
        "Destination vmmds' TCP API addresses, comma-separated (in a cluster: default, its other hosts).", valueName: "host:port,..."))
    var to: String?

    @Option(help: ArgumentHelp("Migrations at once (default 2).", valueName: "n"))
    var parallel: Int?

    @Flag(help: "Print JSON (pretty, sorted keys).")
    var json = false

    var targets: [String] { (to ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }

    func validate() throws {
        if to != nil, targets.isEmpty { throw ValidationError("--to needs at least one HOST:PORT") }
        if let parallel, !(1...16).contains(parallel) { throw ValidationError("--parallel must be 1 to 16") }
    }

    func run() async throws {
        let request = HostDrainRequest(to: targets, parallel: parallel)
        let report = try await global.client().post(Routes.host + "/drain", body: request, as: HostDrainReport.self)
        print(json ? try JSONOutput.document(report) : Self.summary(report))
        if report.running > 0 { throw ExitCode(ExitStatus.failure.rawValue) }
    }

    static func summary(_ report: HostDrainReport) -> String {
        var lines = report.vms.map { entry in
            switch entry.outcome {
            case "moved": return "\(entry.vm): migrated to \(entry.to ?? "?")"
            case "defined": return "\(entry.vm): definition moved to \(entry.to ?? "?")"
            default: return "\(entry.vm): not moved: \(entry.reason ?? entry.outcome)"
            }
        }
        lines.append(report.running == 0
            ? "host drained: no VM runs here"
            : "\(report.running) VM(s) still run here; the host stays draining (vmctl host undrain ends it)")
        return lines.joined(separator: "\n")
    }
}
