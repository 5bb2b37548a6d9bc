import Foundation
import VMMAPI

/// Snapshots of a VM: taken by its `vmm` into `<state>/snapshots/VM/NAME/`, listed and
/// deleted by the daemon.
extension VMManager {
    func snapshotList(_ name: String) throws -> VMSnapshotList {
        _ = try lookup(name)
        return VMSnapshotList(snapshots: snapshots.list(name))
    }

    func snapshotInfo(_ name: String, _ snapshot: String) throws -> VMSnapshot {
        _ = try lookup(name)
        return try snapshotRecord(name, snapshot)
    }

    /// Has the VM's `vmm` write a snapshot; the VM stays as it was (running or paused).
    func createSnapshot(_ name: String, _ request: VMSnapshotRequest) async throws -> VMSnapshot {
        let vm = try lookup(name)
        guard VMDefinition.isValidName(request.name) else { throw APIError.invalidSnapshotName(request.name) }
        try VMAction.snapshot.check(vm.state, vm: name)
        try checkIdle(name)
        let record = try await takeSnapshot(name, request.name, memoryOnly: request.memoryOnly ?? false)
        publish(
            .snapshotCreated, name, snapshot: record.name,
            reason: "snapshot \(record.name): \(record.bytes) bytes, paused \(record.pausedMs) ms")
        return record
    }

    /// Deletes a snapshot, unless a clone that has not started yet needs it.
    func deleteSnapshot(_ name: String, _ snapshot: String) throws {
        _ = try lookup(name)
        _ = try snapshotRecord(name, snapshot)
        try checkIdle(name)
        try checkNoCloneNeeds(name, snapshot: snapshot)
        try saving { try snapshots.remove(snapshots.folder(name, snapshot)) }
        logger.info("VM \(name): deleted snapshot \(snapshot)")
    }

    /// Takes snapshot `snapshot` of the running or paused VM `name` (checked by the caller)
    /// and records it. The VM is busy meanwhile; on failure no folder is left.
    func takeSnapshot(_ name: String, _ snapshot: String, memoryOnly: Bool) async throws -> VMSnapshot {
        guard VMDefinition.isValidName(snapshot) else { throw APIError.invalidSnapshotName(snapshot) }
        guard !snapshots.exists(name, snapshot) else {
            throw APIError(
                code: .conflict,
                message: "VM \(name) has a snapshot named \(snapshot): choose another name, or delete that one first")
        }
        guard let state = vms[name]?.state else { throw APIError.unknownVM(name) }
        busy[name] = "taking snapshot \(snapshot)"
        defer { busy[name] = nil }
        try saving { try snapshots.prepare(name, snapshot) }
        let partial = snapshots.partialFolder(name, snapshot)
        snapshotsBeingWritten[name] = partial
        defer { snapshotsBeingWritten[name] = nil }
        let created = Date()
        do {
            let control = ControlChannel(socketPath: runtimeDirectory(name).controlSocket)
            let jailed = vms[name]?.run?.jailID != nil
            let reply = try await control.snapshot(to: pathForVMM(name, partial), memoryOnly: memoryOnly)
            if jailed { try FolderOwnership.reclaim(partial) }
            let record = VMSnapshot(
                name: snapshot, vm: name, created: Self.timestamp(created), memoryOnly: memoryOnly, bytes: reply.bytes,
                memoryBytes: reply.memoryBytes, diskBytes: reply.diskBytes, pausedMs: reply.pausedMilliseconds,
                state: state, path: snapshots.folder(name, snapshot))
            try snapshots.commit(record)
            logger.info("VM \(name): snapshot \(snapshot) taken (\(reply.bytes) bytes, paused \(reply.pausedMilliseconds) ms)")
            return record
        } catch {
            // vmm removes what it wrote on its own failures; not if the daemon failed after.
            try? snapshots.remove(partial)
            throw Self.snapshotError(error, name, snapshot)
        }
    }

    /// The record of a VM's snapshot, or a 400/404 error.
    func snapshotRecord(_ name: String, _ snapshot: String) throws -> VMSnapshot {
        guard VMDefinition.isValidName(snapshot) else { throw APIError.invalidSnapshotName(snapshot) }
        guard let record = snapshots.record(name, snapshot) else { throw APIError.unknownSnapshot(snapshot, of: name) }
        return record
    }

    /// Throws a 409 while something else is under way for VM `name`.
    func checkIdle(_ name: String) throws {
        if let work = busy[name] {
            throw APIError(code: .conflict, message: "VM \(name) is \(work); try again once that is done")
        }
    }

    /// Throws a 409 if a clone that has not started yet restores `snapshot` of VM `name`
    /// (any of its snapshots when nil) at its first start.
    func checkNoCloneNeeds(_ name: String, snapshot: String?) throws {
        let clones = vms.values.map(\.definition).filter {
            $0.restoreFrom?.vm == name && (snapshot == nil || $0.restoreFrom?.snapshot == snapshot)
        }
        guard let clone = clones.map(\.name).sorted().first, let needed = vms[clone]?.definition.restoreFrom else { return }
        throw APIError(
            code: .conflict,
            message: "clone \(clone) has not started yet and its first start restores snapshot \(needed.snapshot) of VM \(name): "
                + "start or delete \(clone) first")
    }

    /// An error of the snapshot request as the API reports it: vmm's own refusal as it
    /// came (507 for a full disk), anything else as a 500 naming the VM and snapshot.
    private static func snapshotError(_ error: any Error, _ name: String, _ snapshot: String) -> APIError {
        let prefix = "snapshot \(snapshot) of VM \(name) failed"
        switch error {
        case let error as APIError where error.code == APIError.Code.insufficientStorage.rawValue:
            return APIError(
                code: .insufficientStorage,
                message: "\(prefix): \(error.message); the VM goes on, nothing was kept: free space on the state folder's file system")
        case let error as APIError where error.code == APIError.Code.conflict.rawValue:
            return APIError(code: .conflict, message: "\(prefix): \(error.message)")
        case let error as APIError:
            return APIError.internalError("\(prefix): \(error.message)")
        case let error as FileError where error.isOutOfSpace:
            return APIError(code: .insufficientStorage, message: "\(prefix): \(error.description): free space on the state folder's file system")
        default:
            return APIError.internalError("\(prefix): \(error)")
        }
    }

    /// `date` as ISO 8601 in UTC, to the second.
    static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
