/// A migration into this host, as `GET /v1/migrations/{id}` reports it.
public struct IncomingMigration: Codable, Equatable, Sendable {
    public enum Phase: String, Codable, Sendable {
        /// `vmm receive` waits for or reads the stream; the guest does not run here.
        case incoming
        /// The guest runs here: the migration completed.
        case running
        /// It ended without the guest having run here; nothing of it is left.
        case failed
    }

    public var id: String
    public var vm: String
    public var phase: Phase
    /// Stream bytes received so far (while incoming, when `vmm` reports it).
    public var bytesReceived: UInt64?
    /// Why it failed.
    public var message: String?

    public init(id: String, vm: String, phase: Phase, bytesReceived: UInt64? = nil, message: String? = nil) {
        self.id = id
        self.vm = vm
        self.phase = phase
        self.bytesReceived = bytesReceived
        self.message = message
    }
}
