/// A virtio-blk disk in a VM definition: `{"path": "/srv/web.raw", "readOnly": false}`.
public struct VMDisk: Codable, Equatable, Sendable {
    /// Absolute path on the daemon's host of a raw image or block device; no `,` (vmm's
    /// `--disk` option could not carry it).
    public var path: String
    /// The guest cannot write it; vmm opens the image read-only and shares it with other
    /// VMs that attach it read-only.
    public var readOnly: Bool
    /// Bytes and requests per second; nil: unlimited. Changeable while the VM runs.
    public var rateLimit: VMRateLimit?

    public init(path: String, readOnly: Bool = false, rateLimit: VMRateLimit? = nil) {
        self.path = path
        self.readOnly = readOnly
        self.rateLimit = rateLimit
    }

    private enum Field: String, CodingKey {
        case path, readOnly, rateLimit
    }

    /// Decodes a disk in which only `path` is required (`readOnly` is false by default).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Field.self)
        self.init(
            path: try container.decode(String.self, forKey: .path),
            readOnly: try container.decodeIfPresent(Bool.self, forKey: .readOnly) ?? false,
            rateLimit: try container.decodeIfPresent(VMRateLimit.self, forKey: .rateLimit))
    }
}
