import Foundation
import VMMAPI

/// Taking a VM back to one of its snapshots.
extension VMManager {
    /// Stops the VM at once if it has a process, then runs `vmm restore` on the snapshot
    /// with the definition's disks and NICs: the VM is running from the snapshot's instant,
    /// with the same identity (MACs, VM generation ID).
    func restore(_ name: String, _ request: VMRestoreRequest) async throws -> VMInfo {
        let vm = try lookup(name)
        try VMAction.restore.check(vm.state, vm: name)
        try checkIdle(name)
        let record = try snapshotRecord(name, request.snapshot)
        try vm.definition.validate()
        let folder = snapshots.folder(name, record.name)
        try checkDevices(vm.definition, against: try readMetadata(folder), snapshot: record.name, of: name)

        busy[name] = "being restored from snapshot \(record.name)"
        defer { busy[name] = nil }
        if vm.state.hasProcess { _ = try await kill(name) }
        // Other requests ran while the process ended; the definition cannot have changed (busy).
        try VMAction.start.check(try lookup(name).state, vm: name)
        let info = try await launch(
            name, try launcher.restoreArguments(for: vm.definition, snapshot: folder, newIdentity: false, in: runtimeDirectory(name)))
        logger.info("VM \(name): restored snapshot \(record.name)")
        publish(.restored, name, snapshot: record.name, reason: "restored snapshot \(record.name) taken \(record.created)")
        return info
    }

    /// A snapshot's metadata, or a 500 saying the snapshot is unusable.
    func readMetadata(_ folder: String) throws -> SnapshotMetadata {
        do {
            return try SnapshotMetadata.read(from: folder)
        } catch {
            throw APIError.internalError("the snapshot in \(folder) is unusable: \(error); delete it")
        }
    }

    /// Throws a 409 unless `definition` has as many disks and NICs as the snapshot: vmm
    /// restores each device's state onto the device in the same place.
    func checkDevices(_ definition: VMDefinition, against metadata: SnapshotMetadata, snapshot: String, of vm: String) throws {
        guard definition.disks.count == metadata.disks.count, definition.networks.count == metadata.networks.count else {
            throw APIError(
                code: .conflict,
                message: "snapshot \(snapshot) of VM \(vm) has \(metadata.disks.count) disk(s) and \(metadata.networks.count) NIC(s), "
                    + "VM \(definition.name) has \(definition.disks.count) and \(definition.networks.count): "
                    + "a restore needs the same devices; change the definition back (PATCH) first")
        }
    }
}
