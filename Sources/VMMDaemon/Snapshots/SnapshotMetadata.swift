import Foundation

/// The part of `vmm`'s `snapshot.json` the daemon needs to restore or clone a snapshot
/// (the format is vmm's; see the snapshot contract in docs/architecture.md).
struct SnapshotMetadata: Decodable, Sendable {
    struct Disk: Decodable, Sendable {
        /// The image the VM had attached.
        var path: String
        var readOnly: Bool
        /// The copy in the snapshot's folder (nil: read-only, or a memory-only snapshot).
        var file: String?
    }

    struct Network: Decodable, Sendable {
        var tap: String?
        var mac: String?
    }

    var memoryOnly: Bool
    var memorySize: UInt64
    var cpus: Int
    var disks: [Disk]
    var networks: [Network]

    static let fileName = "snapshot.json"

    /// Reads `<folder>/snapshot.json`.
    static func read(from folder: String) throws -> SnapshotMetadata {
        let path = "\(folder)/\(fileName)"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FileError("cannot read \(path): \(Linux.errorMessage)", code: errno)
        }
        do {
            return try JSONDecoder().decode(SnapshotMetadata.self, from: data)
        } catch {
            throw FileError("\(path) is not a vmm snapshot's metadata: \(error)")
        }
    }
}
