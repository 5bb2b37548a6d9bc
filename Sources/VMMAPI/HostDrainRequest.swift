/// The body of `POST /v1/host/drain`: move every VM off this host.
public struct HostDrainRequest: Codable, Equatable, Sendable {
    /// Destination daemons (`HOST:PORT`); each VM goes to the one with the most available memory.
    public var to: [String]
    /// How many migrations run at once (default 2).
    public var parallel: Int?

    public init(to: [String], parallel: Int? = nil) {
        self.to = to
        self.parallel = parallel
    }
}
