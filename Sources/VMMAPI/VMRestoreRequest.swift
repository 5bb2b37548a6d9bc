/// The body of `POST /v1/vms/{name}/restore`.
public struct VMRestoreRequest: Codable, Equatable, Sendable {
    /// One of the VM's snapshots.
    public var snapshot: String

    public init(snapshot: String) {
        self.snapshot = snapshot
    }
}
