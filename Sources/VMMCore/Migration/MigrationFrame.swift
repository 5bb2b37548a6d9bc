/// The frames of the migration stream (docs/migration.md, "Wire format"): `kind` (UInt32
/// LE), `length` (UInt32 LE), then `length` bytes of payload.
public enum MigrationFrame {
    public enum Kind: UInt32, Sendable {
        case hello = 1, accept, refuse, memory, disk, state, ready, go, resumed, abort
    }

    /// Longest payload either side accepts: a peer announcing more is refused before any
    /// byte of it is read, so a bad peer cannot make vmm allocate without bound.
    public static let maximumPayload = 4 << 20
    static let headerSize = 8
    /// Guest memory per `memory` frame: whole pages, so that with its 8-byte address the
    /// payload stays within `maximumPayload`.
    static let maximumMemoryChunk = maximumPayload - 4096
    /// Disk bytes per `disk` frame (after the 12-byte index and offset).
    static let maximumDiskChunk = 1 << 20

    static func header(_ kind: Kind, length: Int) -> [UInt8] {
        var encoder = StateEncoder()
        encoder.append(kind.rawValue)
        encoder.append(UInt32(length))
        return encoder.bytes
    }
}
