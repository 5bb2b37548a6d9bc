/// The body of `POST /v1/vms/{name}/clone`.
public struct VMCloneRequest: Codable, Equatable, Sendable {
    /// The new VM's name.
    public var name: String
    /// One of the source VM's snapshots: the clone starts from that instant. Absent: a
    /// stopped source's disks are copied (a cold clone); a running or paused source gets a
    /// snapshot taken for the clone.
    public var snapshot: String?
    /// Start the clone at once (default false).
    public var start: Bool?

    public init(name: String, snapshot: String? = nil, start: Bool? = nil) {
        self.name = name
        self.snapshot = snapshot
        self.start = start
    }
}
