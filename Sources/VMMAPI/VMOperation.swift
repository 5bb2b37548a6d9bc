/// What the daemon is doing for a VM that takes a while (a snapshot, a restore, a clone),
/// so that clients can show progress.
public struct VMOperation: Codable, Equatable, Sendable {
    /// What is under way, e.g. "taking snapshot nightly".
    public var description: String
    /// For a snapshot being taken: the bytes its files take on disk so far.
    public var bytesWritten: Int64?

    public init(description: String, bytesWritten: Int64? = nil) {
        self.description = description
        self.bytesWritten = bytesWritten
    }
}
