import Foundation
import VMMAPI

/// A migration into this host as the daemon keeps it: in memory, and in
/// `<state>/migrations/<id>.json` while the guest does not run here yet, so a daemon
/// restarted meanwhile can remove what it made (or adopt the VM, if it runs by then).
struct IncomingMigrationRecord: Codable, Sendable {
    var id: String
    /// The definition the VM gets here (disk paths as they are on this host).
    var definition: VMDefinition
    /// Disk images this daemon created for the stream (copy-storage), removed on failure.
    var createdDisks: [String]
    /// The `vmm receive` process, once started.
    var pid: Int32?
    var phase: IncomingMigration.Phase = .incoming
    var message: String?
    /// When it ended (ended records are forgotten after a while).
    var ended: Date?

    var report: IncomingMigration {
        IncomingMigration(id: id, vm: definition.name, phase: phase, message: message)
    }
}

/// The folder of the persisted records.
struct IncomingMigrationStore: Sendable {
    let directory: String

    init(directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func save(_ record: IncomingMigrationRecord) throws {
        try AtomicFile.write(try JSONEncoder().encode(record), to: path(record.id))
    }

    func remove(_ id: String) {
        unlink(path(id))
    }

    func loadAll() -> [IncomingMigrationRecord] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return files.filter { $0.hasSuffix(".json") }.compactMap { file in
            FileManager.default.contents(atPath: "\(directory)/\(file)").flatMap {
                try? JSONDecoder().decode(IncomingMigrationRecord.self, from: $0)
            }
        }
    }

    private func path(_ id: String) -> String { "\(directory)/\(id).json" }
}
