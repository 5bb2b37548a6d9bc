/// The answer to `POST /v1/migrations` (201): where the source sends the stream.
public struct MigrationTicket: Codable, Equatable, Sendable {
    /// Names the migration on the destination; the first line of the stream carries it.
    public var id: String
    /// The destination's migration port (TLS, peers only).
    public var port: Int

    public init(id: String, port: Int) {
        self.id = id
        self.port = port
    }
}
