/// What `status` tells about a migration (the `migration` object of docs/migration.md).
public struct MigrationProgress: Sendable {
    public enum Phase: String, Sendable {
        case setup, precopy, stopping
        case awaitingConfirmation = "awaiting-confirmation"
        case completed, failed, cancelled
        /// The destination's only phase until its VM runs.
        case receiving
    }

    public var phase: Phase = .setup
    public var rounds = 0
    public var bytesSent: UInt64 = 0
    public var bytesReceived: UInt64 = 0
    /// Dirty bytes the last round found.
    public var remainingBytes: UInt64 = 0
    /// Measured bandwidth of the stream, bits per second.
    public var bandwidth: Double = 0
    public var expectedDowntime: Double = 0
    public var throttlePercent = 0
    /// Pause of the vCPUs until the destination said it resumed them (seconds), once completed.
    public var downtime: Double?
    public var message: String?

    public init(phase: Phase = .setup) { self.phase = phase }

    /// Whether the migration still holds the VM (requests that would interfere wait or fail).
    public var isActive: Bool { [.setup, .precopy, .stopping].contains(phase) }

    public var json: JSONValue {
        if phase == .receiving {
            return .object([("phase", .string(phase.rawValue)), ("bytes_received", .integer(Int(clamping: bytesReceived)))])
        }
        var members: [(String, JSONValue)] = [
            ("phase", .string(phase.rawValue)),
            ("rounds", .integer(rounds)),
            ("bytes_sent", .integer(Int(clamping: bytesSent))),
            ("remaining_bytes", .integer(Int(clamping: remainingBytes))),
            ("bandwidth_mbps", .integer(Int((bandwidth / 1e6).rounded()))),
            ("expected_downtime_ms", .integer(Int((expectedDowntime * 1000).rounded(.up)))),
            ("throttle_percent", .integer(throttlePercent)),
        ]
        if let downtime { members.append(("downtime_ms", .integer(Int((downtime * 1000).rounded(.up))))) }
        if let message { members.append(("message", .string(message))) }
        return .object(members)
    }
}
