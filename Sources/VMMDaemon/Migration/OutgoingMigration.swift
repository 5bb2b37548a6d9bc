import Foundation
import VMMAPI

/// A migration away from this host, while it runs.
struct OutgoingMigration: Sendable {
    let to: HostAndPort
    /// The disks are copied to the destination (else it uses the same images).
    let copyStorage: Bool
    /// The destination's id for it, once it accepted.
    var id: String?
    var progress: VMMigrationProgress
    /// The destination confirmed the guest runs there: the `vmm`'s end is the VM leaving.
    var confirmed = false
    /// Why the tunnel could not carry the stream, if it could not.
    var tunnelFailure: String?
    /// The last `downtime_ms` the `vmm` reported.
    var downtimeMs: Double?

    init(to: HostAndPort, copyStorage: Bool) {
        self.to = to
        self.copyStorage = copyStorage
        progress = VMMigrationProgress(to: to.description, phase: "setup")
    }
}

/// Where an outgoing migration goes, kept in the VM's runtime folder while it runs: a
/// daemon restarted while the `vmm` awaits the destination's confirmation asks there.
struct OutgoingMigrationFile: Codable, Sendable {
    var id: String
    var to: String
    /// Whether the disks are copied (absent in files of daemons before it was kept).
    var copyStorage: Bool?
}

/// A VM that left this host by migration: kept a while so that `GET /v1/vms/NAME` can say
/// where it went and its console log can still be read.
struct Departure: Sendable {
    var to: String
    var time: Date
    var console: ConsoleLog

    var summary: String { "it migrated to \(to) at \(time.formatted(.iso8601))" }
}
