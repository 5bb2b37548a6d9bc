/// A virtio-blk disk in a VM definition: `{"path": "/srv/web.raw", "readOnly": false}`.
public struct VMDisk: Codable, Equatable, Sendable {
    /// Absolute path on the daemon's host of a raw image or block device; no `,` (vmm's
    /// `--disk` option could not carry it).
    public var path: String
    /// The guest cannot write it; vmm opens the image read-only and shares it with other
    /// VMs that attach it read-only.
    public var readOnly: Bool

    public init(path: String, readOnly: Bool = false) {
        self.path = path
        self.readOnly = readOnly
    }

    private enum Field: String, CodingKey {
        case path, readOnly
    }

    /// Decodes a disk in which only `path` is required (`readOnly` is false by default).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Field.self)
        self.init(
            path: try container.decode(String.self, forKey: .path),
            readOnly: try container.decodeIfPresent(Bool.self, forKey: .readOnly) ?? false)
    }
}
