import Foundation
import Glibc
import VMMAPI

/// The snapshots on disk: `<state>/snapshots/VM/NAME/` holds what `vmm` wrote plus the
/// daemon's record (`vmmd.json`, a `VMSnapshot`). `vmm` writes into `VM/.partial-NAME/`,
/// which becomes `VM/NAME/` by one rename once the record is in it, so a snapshot is
/// either whole or absent, whatever fails or crashes on the way.
struct SnapshotStore: Sendable {
    let directory: String

    static let recordFile = "vmmd.json"
    private static let partialPrefix = ".partial-"

    init(directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// The folder of snapshot `name` of VM `vm`; both names must be valid.
    func folder(_ vm: String, _ name: String) -> String { "\(directory)/\(vm)/\(name)" }

    /// Where `vmm` writes a snapshot being taken.
    func partialFolder(_ vm: String, _ name: String) -> String { "\(directory)/\(vm)/\(Self.partialPrefix)\(name)" }

    func exists(_ vm: String, _ name: String) -> Bool {
        var info = stat()
        return lstat(folder(vm, name), &info) == 0
    }

    /// The record of one snapshot; nil if there is no such snapshot (or no readable record).
    func record(_ vm: String, _ name: String) -> VMSnapshot? {
        let folder = folder(vm, name)
        guard let data = FileManager.default.contents(atPath: "\(folder)/\(Self.recordFile)"),
              var record = try? JSONDecoder().decode(VMSnapshot.self, from: data)
        else { return nil }
        // The folder may have moved with the state folder since it was written.
        record.path = folder
        return record
    }

    /// Every snapshot of `vm`, oldest first.
    func list(_ vm: String) -> [VMSnapshot] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "\(directory)/\(vm)")) ?? []
        return names.filter { VMDefinition.isValidName($0) }.compactMap { record(vm, $0) }
            .sorted { ($0.created, $0.name) < ($1.created, $1.name) }
    }

    /// Creates `<state>/snapshots/VM/` and clears a partial folder of `name` a crashed
    /// daemon may have left, so `vmm` can write there.
    func prepare(_ vm: String, _ name: String) throws {
        let vmFolder = "\(directory)/\(vm)"
        guard mkdir(vmFolder, 0o700) == 0 || errno == EEXIST else {
            throw FileError("cannot create \(vmFolder): \(Linux.errorMessage)", code: errno)
        }
        try? remove(partialFolder(vm, name))
    }

    /// Puts the record into the partial folder `vmm` wrote and makes it the snapshot.
    func commit(_ record: VMSnapshot) throws {
        let partial = partialFolder(record.vm, record.name)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(record), to: "\(partial)/\(Self.recordFile)")
        guard rename(partial, folder(record.vm, record.name)) == 0 else {
            throw FileError("cannot rename \(partial): \(Linux.errorMessage)", code: errno)
        }
        try AtomicFile.syncFolder("\(directory)/\(record.vm)")
    }

    /// Removes a snapshot's folder, or a partial one. A `vmm` restored from it keeps
    /// running: its memory mapping holds the unlinked file. What a jailed `vmm` left there
    /// is taken back first: without CAP_DAC_OVERRIDE its mode bits would keep it out of reach.
    func remove(_ folder: String) throws {
        try? FolderOwnership.reclaim(folder)
        do {
            try FileManager.default.removeItem(atPath: folder)
        } catch {
            throw FileError("cannot remove \(folder): \(error.localizedDescription)")
        }
    }

    /// Removes every snapshot of a VM being deleted.
    func removeAll(_ vm: String) throws {
        let vmFolder = "\(directory)/\(vm)"
        guard FileManager.default.fileExists(atPath: vmFolder) else { return }
        try remove(vmFolder)
    }

    /// Removes the partial folders a daemon that died mid-snapshot left (at start-up).
    func removePartials() {
        for vm in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: "\(directory)/\(vm)")) ?? []
            where entry.hasPrefix(Self.partialPrefix) {
                try? remove("\(directory)/\(vm)/\(entry)")
            }
        }
    }
}

extension SnapshotStore {
    /// Bytes the files directly in `folder` take on disk (allocated blocks, so a sparse
    /// memory file counts what was written), 0 if it cannot be read.
    static func diskUsage(_ folder: String) -> Int64 {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return 0 }
        return names.reduce(Int64(0)) { total, name in
            var info = stat()
            guard lstat("\(folder)/\(name)", &info) == 0 else { return total }
            return total + Int64(info.st_blocks) * 512
        }
    }
}
