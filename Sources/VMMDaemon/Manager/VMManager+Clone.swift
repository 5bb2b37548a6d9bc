import Foundation
import Glibc
import VMMAPI

/// Clones: new VMs made from a VM, with their own name, disk copies and MAC addresses.
extension VMManager {
    /// Defines VM `request.name` as a copy of VM `name` and, with `start`, starts it.
    ///
    /// - With a snapshot (given, or taken now for a source that runs): the clone's first
    ///   start restores it with a new VM generation ID (`restoreFrom` in its definition
    ///   until then).
    /// - Without, for a source without a process: the writable disks are copied now (a
    ///   cold clone) and the clone boots its kernel.
    ///
    /// On any failure nothing of the clone remains (an automatic snapshot included); a
    /// clone whose start fails is deleted again.
    func clone(_ name: String, _ request: VMCloneRequest) async throws -> VMInfo {
        let source = try lookup(name)
        let newName = request.name
        guard VMDefinition.isValidName(newName) else { throw APIError.invalidName(newName) }
        guard vms[newName] == nil, busy[newName] == nil else {
            throw APIError(code: .conflict, message: "a VM named \(newName) exists: choose another name for the clone")
        }
        if let snapshot = request.snapshot { _ = try snapshotRecord(name, snapshot) }

        busy[newName] = "being cloned from VM \(name)"
        let info: VMInfo
        var automatic: String?
        do {
            var snapshot = request.snapshot
            if snapshot == nil, source.state.hasProcess {
                try VMAction.snapshot.check(source.state, vm: name)
                try checkIdle(name)
                let taken = try await takeSnapshot(name, Self.automaticSnapshotName(for: newName), memoryOnly: false)
                (snapshot, automatic) = (taken.name, taken.name)
            }
            let definition = try await makeClone(of: name, as: newName, from: snapshot, automatic: automatic != nil)
            let revision: Int64?
            do {
                revision = try await defineInCluster(definition)
            } catch {
                try? removeDiskCopies(newName)
                throw error
            }
            do {
                info = try define(definition, cloneOf: name)
            } catch {
                await forgetInCluster(newName, revision: revision)
                throw error
            }
        } catch {
            busy[newName] = nil
            if let automatic { try? snapshots.remove(snapshots.folder(name, automatic)) }
            throw error
        }
        busy[newName] = nil
        let snapshot = info.definition.restoreFrom?.snapshot
        logger.info("cloned VM \(name) as \(newName)\(snapshot.map { " from snapshot \($0)" } ?? "")")
        publish(.cloned, newName, snapshot: snapshot, source: name, reason: "clone of VM \(name)")
        guard request.start == true else { return info }
        do {
            return try await start(newName)
        } catch {
            try? await delete(newName, force: true)
            if let automatic { try? snapshots.remove(snapshots.folder(name, automatic)) }
            throw APIError(code: .internalError, message: "clone \(newName) was not kept, its start failed: \(error)")
        }
    }

    /// The first start of a clone made from a snapshot: `vmm restore --new-identity` on the
    /// clone's disks and NICs. Once it runs, the clone is a VM like any other: its next
    /// start boots its kernel, and an automatic snapshot is deleted.
    func startClone(_ name: String, from source: VMRestoreSource) async throws -> VMInfo {
        guard let definition = vms[name]?.definition else { throw APIError.unknownVM(name) }
        guard snapshots.record(source.vm, source.snapshot) != nil else {
            throw APIError(
                code: .conflict,
                message: "clone \(name) starts from snapshot \(source.snapshot) of VM \(source.vm), which no longer exists: "
                    + "delete \(name) and clone again")
        }
        let folder = snapshots.folder(source.vm, source.snapshot)
        try checkDevices(definition, against: try readMetadata(folder), snapshot: source.snapshot, of: source.vm)
        let info = try await launch(
            name, try launcher.restoreArguments(for: definition, snapshot: folder, newIdentity: true, in: runtimeDirectory(name)))
        var started = definition
        started.restoreFrom = nil
        do {
            try store.save(started)
            vms[name]?.definition = started
            clusterWrite(.definition(name))
        } catch {
            logger.error("VM \(name) started from snapshot \(source.snapshot), but its definition could not be updated: \(error)")
        }
        if source.automatic, (try? checkNoCloneNeeds(source.vm, snapshot: source.snapshot)) != nil {
            try? snapshots.remove(folder)
        }
        return info
    }

    /// Deletes the disk copies the daemon made for VM `name`.
    func removeDiskCopies(_ name: String) throws {
        let folder = diskCopiesFolder(name)
        guard FileManager.default.fileExists(atPath: folder) else { return }
        do {
            try FileManager.default.removeItem(atPath: folder)
        } catch {
            throw FileError("cannot remove \(folder): \(error.localizedDescription)")
        }
    }

    /// Deletes disk copies no VM owns (a daemon died while cloning).
    func removeOrphanedDiskCopies() {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: configuration.disksDirectory)) ?? []
        where vms[name] == nil && !FileManager.default.fileExists(atPath: Self.lentMarker(configuration.disksDirectory, name)) {
            try? removeDiskCopies(name)
        }
    }

    /// The file that marks VM `name`'s disk folder as used by a host it migrated to (shared
    /// storage): no orphan, whatever this daemon's registry says.
    static func lentMarker(_ disksDirectory: String, _ name: String) -> String {
        "\(disksDirectory)/\(name)/.migrated-away"
    }

    /// The automatic snapshot of a running source for clone `newName` (cut to 63 bytes).
    static func automaticSnapshotName(for newName: String) -> String {
        String("clone-\(newName)".prefix(63))
    }

    private func diskCopiesFolder(_ name: String) -> String { "\(configuration.disksDirectory)/\(name)" }

    /// Stores and registers the clone's definition (a 409 if it attaches what another VM does).
    private func define(_ definition: VMDefinition, cloneOf source: String) throws -> VMInfo {
        do {
            try definition.validate()
            try checkDiskConflicts(definition)
            try checkTapConflicts(definition)
            try saving { try store.save(definition) }
        } catch {
            try? removeDiskCopies(definition.name)
            throw error
        }
        vms[definition.name] = ManagedVM(definition: definition)
        publish(definition.name, .stopped, previous: nil, reason: "cloned from VM \(source)")
        return vms[definition.name]!.info
    }

    /// The clone's definition, its disks in place: the source's, renamed, on kernel-named
    /// taps with MACs generated from the new name, each writable disk a file of its own in
    /// `<state>/disks/NEW/disk<i>.img` (read-only ones shared). From a snapshot, the devices,
    /// vCPUs and memory are the snapshot's; its disk copies reach the clone's files when
    /// `vmm restore` runs (so they start as sparse files here), while a memory-only
    /// snapshot uses the source's disks as they are now.
    private func makeClone(of name: String, as newName: String, from snapshot: String?, automatic: Bool) async throws -> VMDefinition {
        let sourceDefinition = try lookup(name).definition
        var definition = sourceDefinition
        definition.name = newName
        definition.restoreFrom = nil
        let folder = diskCopiesFolder(newName)
        func target(_ index: Int) -> String { "\(folder)/disk\(index).img" }

        // What to copy (source → target) and which targets start empty (path → size).
        var copies: [(String, String)] = []
        var placeholders: [(String, Int64)] = []
        if let snapshot {
            let snapshotFolder = snapshots.folder(name, snapshot)
            let metadata = try readMetadata(snapshotFolder)
            definition.cpus = metadata.cpus
            definition.memory = metadata.memorySize
            definition.networks = metadata.networks.map { _ in VMNetwork() }
            definition.disks = try metadata.disks.enumerated().map { index, disk in
                if disk.readOnly { return VMDisk(path: disk.path, readOnly: true) }
                if let file = disk.file {
                    placeholders.append((target(index), try Self.size(of: "\(snapshotFolder)/\(file)")))
                } else {
                    copies.append((disk.path, target(index)))
                }
                return VMDisk(path: target(index))
            }
            definition.restoreFrom = VMRestoreSource(vm: name, snapshot: snapshot, automatic: automatic)
        } else {
            // New taps and disk files; the rate limits stay.
            definition.networks = sourceDefinition.networks.map {
                VMNetwork(receiveLimit: $0.receiveLimit, transmitLimit: $0.transmitLimit)
            }
            definition.disks = sourceDefinition.disks.enumerated().map { index, disk in
                if disk.readOnly { return disk }
                copies.append((disk.path, target(index)))
                return VMDisk(path: target(index), rateLimit: disk.rateLimit)
            }
        }
        definition = try definition.withMACAddresses()

        // A cold copy must not race a start of the source that writes its disks.
        let copiesSource = snapshot == nil && !copies.isEmpty
        if copiesSource {
            try checkIdle(name)
            busy[name] = "being copied for clone \(newName)"
        }
        defer { if copiesSource { busy[name] = nil } }
        try? removeDiskCopies(newName)
        do {
            try await BlockingThread.run("vmm-clone-disks") { [copies, placeholders] in
                if !copies.isEmpty || !placeholders.isEmpty {
                    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                }
                for (source, target) in copies { try DiskCopier.copy(source, to: target) }
                for (target, size) in placeholders { try DiskCopier.createSparse(target, size: size) }
            }
        } catch {
            try? removeDiskCopies(newName)
            if let error = error as? FileError, error.isOutOfSpace {
                throw APIError(
                    code: .insufficientStorage,
                    message: "cannot copy the disks of VM \(name) for clone \(newName): \(error.description); "
                        + "free space on the state folder's file system")
            }
            throw APIError.internalError("cannot copy the disks of VM \(name) for clone \(newName): \(error)")
        }
        return definition
    }

    private static func size(of path: String) throws -> Int64 {
        var info = stat()
        guard stat(path, &info) == 0 else { throw FileError("cannot stat \(path): \(Linux.errorMessage)", code: errno) }
        return Int64(info.st_size)
    }
}
