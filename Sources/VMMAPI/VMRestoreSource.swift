/// The snapshot a clone's first start restores (`restoreFrom` in its definition; set by
/// the daemon, never by clients). Cleared once that start succeeded.
public struct VMRestoreSource: Codable, Equatable, Sendable {
    /// The VM the snapshot belongs to (the clone's source).
    public var vm: String
    public var snapshot: String
    /// The daemon took the snapshot for this clone and deletes it after the first start.
    public var automatic: Bool

    public init(vm: String, snapshot: String, automatic: Bool) {
        self.vm = vm
        self.snapshot = snapshot
        self.automatic = automatic
    }
}
