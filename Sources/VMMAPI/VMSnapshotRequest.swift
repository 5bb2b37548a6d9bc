/// The body of `POST /v1/vms/{name}/snapshots`.
public struct VMSnapshotRequest: Codable, Equatable, Sendable {
    /// The snapshot's name (VM name rules).
    public var name: String
    /// Skip the disk copies (default false).
    public var memoryOnly: Bool?

    public init(name: String, memoryOnly: Bool? = nil) {
        self.name = name
        self.memoryOnly = memoryOnly
    }
}
