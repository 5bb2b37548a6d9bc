/// What the daemon is doing for a VM that takes a while (a snapshot, a restore, a clone, a migration),
/// so that clients can show progress.
public struct VMOperation: Codable, Equatable, Sendable {
    /// What is under way, e.g. "taking snapshot nightly".
    public var description: String
    /// For a snapshot being taken: the bytes its files take on disk so far.
    public var bytesWritten: Int64?
    /// For a migration away from this host: how far it is.
    public var migration: VMMigrationProgress?

    public init(description: String, bytesWritten: Int64? = nil, migration: VMMigrationProgress? = nil) {
        self.description = description
        self.bytesWritten = bytesWritten
        self.migration = migration
    }
}
