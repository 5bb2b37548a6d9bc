#if canImport(Glibc)
import Glibc
#endif
import VMMCore

/// The `snapshot` control request.
extension Session {
    /// Saves the VM into the new folder `directory`. A running VM is paused for as long as
    /// the state, memory and disk copies take, then resumes; a paused VM stays paused.
    func snapshot(to directory: String, memoryOnly: Bool) throws(ControlError) -> JSONValue {
        let (machine, wasPaused) = try currentMachine()
        try live.withLock { l throws(ControlError) in try Self.checkNoMigration(l) }
        let vcpus = SnapshotWriter.VCPUControl(
            alreadyPaused: wasPaused,
            pause: { () throws(VMMError) in
                do throws(ControlError) { try self.pause() } catch { throw .system("pausing the vCPUs (\(error.message))", ETIMEDOUT) }
            },
            resume: { try? self.resume() })
        let outcome = Result { () throws(VMMError) -> SnapshotWriter.Result in
            try SnapshotWriter(kvm: builder.kvm, log: log).write(
                machine, description: description(memoryOnly: memoryOnly), to: directory, vcpus: vcpus)
        }
        switch outcome {
        case .success(let result):
            let pausedMilliseconds = (result.pausedSeconds * 1000).rounded(.up)
            log.info(
                "snapshot \(directory): \(result.total) bytes, \(result.copyRounds) copy rounds while running, "
                    + "guest paused \(pausedMilliseconds) ms")
            return .object([
                ("ok", .bool(true)),
                ("path", .string(directory)),
                ("bytes", .integer(Int(clamping: result.total))),
                ("memory_bytes", .integer(Int(clamping: result.memoryBytes))),
                ("disk_bytes", .integer(Int(clamping: result.diskBytes))),
                ("paused_ms", .integer(Int(pausedMilliseconds))),
                ("memory_only", .bool(memoryOnly)),
            ])
        case .failure(let error):
            log.error("snapshot \(directory) failed: \(error)")
            throw ControlError(error.isUserError ? .badRequest : .failed, error.description)
        }
    }

    /// The configuration as it is now: NICs with the MAC addresses they really have.
    func description(memoryOnly: Bool) -> SnapshotDescription {
        let guest = currentGuest!
        var configuration = guest.configuration
        let networkDevices = guest.inputs.virtioDevices.compactMap { $0 as? VirtioNetworkDevice }
        for (index, device) in networkDevices.enumerated() where index < configuration.networks.count {
            configuration.networks[index].macAddress = device.macAddress
        }
        var description = SnapshotDescription(
            configuration: configuration, memoryOnly: memoryOnly, diskCopies: [], created: Int64(time(nil)))
        description.kernelParameters = guest.inputs.kernelParameters ?? []
        return description
    }
}
