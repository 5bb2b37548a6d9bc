/// The body of a peer's `POST /v1/migrations`: run this VM here, from a stream that follows.
public struct MigrationRequest: Codable, Equatable, Sendable {
    /// The VM as the source defines it (paths as the source sees them).
    public var definition: VMDefinition
    /// The writable disks come in the stream: the destination creates them (sparse, the
    /// sizes of `diskSizes`) where they are missing.
    public var copyStorage: Bool
    /// The size in bytes of each of the definition's disks on the source (copy-storage).
    public var diskSizes: [UInt64]?

    public init(definition: VMDefinition, copyStorage: Bool, diskSizes: [UInt64]? = nil) {
        self.definition = definition
        self.copyStorage = copyStorage
        self.diskSizes = diskSizes
    }
}
