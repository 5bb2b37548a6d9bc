/// What `vmm` writes to `exit.json` as it ends.
struct ExitRecord: Decodable, Sendable {
    /// "poweroff", "debug-exit", "reset", "crashed", "stopped", "host-failure", "bad-input",
    /// "migrated", "migration-failed" or "fenced".
    var reason: String
    var status: Int
    var message: String?
    /// For "migrated": the migration's final figures.
    var migration: ControlChannel.MigrationStatus.Migration?

    /// Whether the guest itself chose to end (powered off, wrote the debug-exit port or
    /// reset with rebooting disabled): the VM stopped rather than crashed.
    var isGuestInitiated: Bool { ["poweroff", "debug-exit", "reset"].contains(reason) }

    /// One line: the reason, the status and the message's first line (a crash message goes
    /// on with a register dump, which stays in vmm.log).
    var summary: String {
        let firstLine = message?.split(separator: "\n").first.map(String.init) ?? ""
        return "\(reason) (status \(status))\(firstLine.isEmpty ? "" : ": \(firstLine)")"
    }
}
