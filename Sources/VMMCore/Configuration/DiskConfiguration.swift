import DeviceOptions

/// A virtio-blk disk backed by a raw image file on the host.
public struct DiskConfiguration: Equatable, Sendable {
    public var path: String
    /// Writes fail with VIRTIO_BLK_S_IOERR and the image is opened read-only (and locked shared).
    public var readOnly: Bool
    /// The disk's token buckets (bytes and requests per second); unlimited by default.
    public var rateLimit: RateLimitOption

    public init(path: String, readOnly: Bool = false, rateLimit: RateLimitOption = RateLimitOption()) {
        self.path = path
        self.readOnly = readOnly
        self.rateLimit = rateLimit
    }
}
