/// The on-disk layout of a snapshot folder and the framing of its state file.
///
///     DIR/state        magic, format version, body length, body, CRC-32 of the body
///     DIR/memory       guest RAM as a sparse file: holes where the guest never wrote
///     DIR/disk<i>.img  writable disks as they were at the same instant (not --memory-only)
///     DIR/snapshot.json  a description for people and the daemon, written last
///
/// The state file alone decides whether a snapshot can be restored; snapshot.json is
/// written after everything else is on disk, so its presence marks a complete snapshot.
public enum SnapshotFormat {
    /// Raised whenever any saved field changes; restoring another version is refused.
    public static let version: UInt32 = 2
    static let magic: [UInt8] = Array("VMMSNAP\0".utf8)
    public static let stateFile = "state"
    public static let memoryFile = "memory"
    public static let descriptionFile = "snapshot.json"
    static func diskFile(_ index: Int) -> String { "disk\(index).img" }

    /// Frames `body` with the header and checksum.
    static func frame(_ body: [UInt8]) -> [UInt8] {
        var header = StateEncoder()
        header.append(version)
        header.append(UInt64(body.count))
        var bytes = magic + header.bytes + body
        var trailer = StateEncoder()
        trailer.append(CRC32.checksum(body))
        bytes += trailer.bytes
        return bytes
    }

    /// Checks magic, version, length and checksum; returns the body.
    static func unframe(_ bytes: [UInt8], path: String) throws(VMMError) -> [UInt8] {
        let headerSize = magic.count + 12
        guard bytes.count >= headerSize + 4, Array(bytes.prefix(magic.count)) == magic else {
            throw .invalidSnapshot("\(path) is not a vmm snapshot state file (no VMMSNAP header)")
        }
        var header = StateDecoder(Array(bytes[magic.count..<headerSize]), context: "header")
        let found = try header.read(UInt32.self)
        guard found == version else {
            throw .invalidSnapshot(
                "\(path) has snapshot format version \(found); this vmm reads version \(version) only: "
                    + "restore it with the vmm that took it")
        }
        let length = try header.read(UInt64.self)
        guard length == UInt64(bytes.count - headerSize - 4) else {
            throw .invalidSnapshot(
                "\(path) is truncated or has extra bytes (\(bytes.count - headerSize - 4) state bytes, header says \(length))")
        }
        let body = Array(bytes[headerSize..<bytes.count - 4])
        var trailer = StateDecoder(Array(bytes.suffix(4)), context: "checksum")
        let checksum = try trailer.read(UInt32.self)
        guard checksum == CRC32.checksum(body) else {
            throw .invalidSnapshot("\(path) is damaged: its checksum does not match its contents")
        }
        return body
    }
}
