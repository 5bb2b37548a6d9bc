import Foundation
import VMMAPI

/// Read-only views for the console, event, host and metrics endpoints.
extension VMManager {
    /// The recent console output of a VM (kept while it runs and after it ends, and for a
    /// while after it migrated away).
    func console(_ name: String) throws -> [UInt8] {
        if VMDefinition.isValidName(name), vms[name] == nil, let departure = departed[name] { return departure.console.contents }
        return try lookup(name).console.contents
    }

    /// The console socket of a VM whose `vmm` runs, for an attachment (404 for an unknown VM,
    /// 409 for one without a console: stopped, crashed, or still arriving by migration).
    func consoleSocket(_ name: String) throws -> String {
        let vm = try lookup(name)
        guard vm.state.hasProcess, vm.state != .incoming else {
            throw APIError(code: .conflict, message: "VM \(name) is \(vm.state.rawValue), so it has no console to attach to"
                + " (start it first; GET /v1/vms/\(name)/console returns what its last run printed)")
        }
        return runtimeDirectory(name).consoleSocket
    }

    /// The host kernel's counters of a VM whose `vmm` runs (404 for an unknown VM, 409 for
    /// one that is not running here).
    func statistics(_ name: String) async throws -> VMStatistics {
        let vm = try lookup(name)
        guard vm.state.hasProcess, vm.state != .incoming else {
            throw APIError(code: .conflict, message: "VM \(name) is \(vm.state.rawValue): only a running or paused VM"
                + " has KVM counters (start it first)")
        }
        return try await ControlChannel(socketPath: runtimeDirectory(name).controlSocket).statistics()
    }

    nonisolated func subscribe() -> AsyncStream<VMEvent> {
        events.subscribe()
    }

    /// VM counts for every state (zeros included).
    func stateCounts() -> [VMState: Int] {
        var counts = Dictionary(uniqueKeysWithValues: VMState.allCases.map { ($0, 0) })
        for vm in vms.values { counts[vm.state, default: 0] += 1 }
        return counts
    }

    /// Each VM's definition and, when its `vmm` answers, its live status.
    func snapshot() async -> [(definition: VMDefinition, status: ControlChannel.Status?)] {
        let running = vms.values.sorted { $0.definition.name < $1.definition.name }.map {
            ($0.definition, $0.state.hasProcess ? ControlChannel(socketPath: runtimeDirectory($0.definition.name).controlSocket) : nil)
        }
        var result: [(definition: VMDefinition, status: ControlChannel.Status?)] = []
        for (definition, control) in running {
            result.append((definition, try? await control?.status()))
        }
        return result
    }
}
