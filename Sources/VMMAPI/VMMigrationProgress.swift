/// A migration under way from this host, as `GET /v1/vms/{name}` shows it in the VM's
/// `operation` (from the source `vmm`'s `status`, polled by the daemon).
public struct VMMigrationProgress: Codable, Equatable, Sendable {
    /// The destination daemon (`HOST:PORT`).
    public var to: String
    /// `setup`, `precopy`, `stopping`, `awaiting-confirmation`, `completed`, `failed`, `cancelled`.
    public var phase: String
    public var rounds: Int
    public var bytesSent: UInt64
    /// Dirty bytes the last round found (what is left to send).
    public var remainingBytes: UInt64
    /// The measured rate, 10^6 bits/s.
    public var bandwidthMbps: Double
    /// The pause the last pass would take at that rate.
    public var expectedDowntimeMs: Double
    /// Auto-converge: the share of time the vCPUs are held out of the guest.
    public var throttlePercent: Int

    public init(
        to: String, phase: String, rounds: Int = 0, bytesSent: UInt64 = 0, remainingBytes: UInt64 = 0,
        bandwidthMbps: Double = 0, expectedDowntimeMs: Double = 0, throttlePercent: Int = 0
    ) {
        self.to = to
        self.phase = phase
        self.rounds = rounds
        self.bytesSent = bytesSent
        self.remainingBytes = remainingBytes
        self.bandwidthMbps = bandwidthMbps
        self.expectedDowntimeMs = expectedDowntimeMs
        self.throttlePercent = throttlePercent
    }
}
