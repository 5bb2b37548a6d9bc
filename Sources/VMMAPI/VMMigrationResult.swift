/// The answer to `POST /v1/vms/{name}/migrate` once the VM runs on the destination.
public struct VMMigrationResult: Codable, Equatable, Sendable {
    public var vm: String
    /// The destination daemon, as asked (`HOST:PORT`).
    public var to: String
    /// The destination's id for the migration (`GET /v1/migrations/{id}` there).
    public var id: String
    /// Pre-copy rounds sent (as last polled: a tiny guest may finish between two polls).
    public var rounds: Int
    /// Bytes of the stream the source sent (as last polled).
    public var bytesSent: UInt64
    /// How long the guest was paused, as the source measured it (when it reported it).
    public var downtimeMs: Double?
    /// From the request to the guest running on the destination.
    public var seconds: Double

    public init(vm: String, to: String, id: String, rounds: Int, bytesSent: UInt64, downtimeMs: Double?, seconds: Double) {
        self.vm = vm
        self.to = to
        self.id = id
        self.rounds = rounds
        self.bytesSent = bytesSent
        self.downtimeMs = downtimeMs
        self.seconds = seconds
    }
}
