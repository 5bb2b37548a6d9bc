/// A virtio-blk disk backed by a raw image file on the host.
public struct DiskConfiguration: Equatable, Sendable {
    public var path: String
    /// Writes fail with VIRTIO_BLK_S_IOERR and the image is opened read-only (and locked shared).
    public var readOnly: Bool

    public init(path: String, readOnly: Bool = false) {
        self.path = path
        self.readOnly = readOnly
    }
}
