import Foundation
import VMMAPI

/// The balloon of a VM that runs: a new target (`PATCH`) and what its `vmm` reports (`GET`).
extension VMManager {
    /// Asks the running VM's guest for a balloon of `target` bytes at once, and keeps the
    /// target in the definition for the next start.
    func setBalloonTarget(_ name: String, _ target: UInt64) async throws -> VMInfo {
        let vm = try lookup(name)
        guard vm.definition.balloon != nil else {
            throw APIError(
                code: .conflict,
                message: "VM \(name) has no balloon device; add one while it is stopped "
                    + "(PATCH {\"balloon\": {\"target\": BYTES}}), then start it")
        }
        var changed = vm.definition
        changed.balloon?.target = target
        try changed.validate()
        try checkIdle(name)
        try await ControlChannel(socketPath: runtimeDirectory(name).controlSocket).send("balloon \(target)")
        // The VM may have changed meanwhile (the actor is reentrant at the await).
        var definition = try lookup(name).definition
        definition.balloon?.target = target
        try saving { try store.save(definition) }
        vms[name]?.definition = definition
        clusterWrite(.definition(name))
        logger.info("VM \(name): balloon target \(target) bytes")
        return try await liveInfo(name)
    }

    /// `info` plus, for a VM whose `vmm` runs with a balloon, the balloon as it reports it.
    func liveInfo(_ name: String) async throws -> VMInfo {
        var info = try self.info(name)
        guard info.state.hasProcess, info.definition.balloon != nil else { return info }
        let status = try? await ControlChannel(socketPath: runtimeDirectory(name).controlSocket, timeout: 2).status()
        info.balloon = status?.balloon.map { balloon in
            VMBalloonStatus(
                target: balloon.target, actual: balloon.actual, inflated: balloon.inflated, reported: balloon.reported,
                guestFreeMemory: balloon.stats?["free_memory"], guestTotalMemory: balloon.stats?["total_memory"],
                guestAvailableMemory: balloon.stats?["available_memory"])
        }
        return info
    }
}
