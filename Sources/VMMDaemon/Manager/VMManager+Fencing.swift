import Foundation
import VMMAPI

/// Fencing in cluster mode (docs/cluster.md section 4): every running HA VM's `vmm` holds a
/// deadline on its own clock, moved later after each confirmed renewal of this host's lease
/// to that renewal's send time + `--fence-after`. When renewals stop (etcd unreachable, or
/// this daemon dead or hung), the deadline passes and each `vmm` stops its VM by itself
/// before the lease can expire and a manager start it elsewhere. Non-HA VMs are never fenced.
extension VMManager {
    /// Moves the fence deadlines after every confirmed renewal, for as long as the daemon runs.
    func keepFencesExtended(_ membership: ClusterMembership) async {
        var extended: ContinuousClock.Instant?
        while !Task.isCancelled {
            if let renewal = await membership.lastConfirmedRenewal, renewal != extended {
                extended = renewal
                // Not awaited: a `vmm` slow to answer (its control thread busy with a long
                // snapshot) must not hold up the other VMs' extensions.
                let names = fencedVMs()
                Task { await setFences(until: renewal + membership.configuration.fenceAfter, of: names) }
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Whether an HA VM has a `vmm` here (fenced when this host stops renewing its lease).
    var runsHAVMs: Bool { vms.values.contains { $0.definition.ha && $0.state.hasProcess } }

    /// The HA VMs with a `vmm` that takes a fence (a VM still starting gets its first one
    /// from `fenceNewlyStarted`).
    private func fencedVMs() -> [String] {
        vms.filter { $0.value.definition.ha && $0.value.run != nil && [.running, .paused, .stopping].contains($0.value.state) }
            .map(\.key)
    }

    /// Gives a VM that just started its first deadline, before it counts as running. Throws
    /// when this host holds no live lease: the VM is then fenced at once.
    func fenceNewlyStarted(_ name: String) async throws {
        guard let cluster, vms[name]?.definition.ha == true else { return }
        let renewal = await cluster.lastConfirmedRenewal
        let failures = await setFences(until: renewal.map { $0 + cluster.configuration.fenceAfter } ?? .now, of: [name])
        if let failure = failures.first {
            throw APIError(code: .conflict, message: renewal == nil
                ? "HA VM \(name) cannot run here now: this host holds no live cluster lease (etcd unreachable?); it was fenced at once"
                : "HA VM \(name) did not take its fence deadline (\(failure)); it was stopped")
        }
    }

    /// Sends `fence until=NS` to each VM's `vmm` at once; returns what failed.
    @discardableResult
    private func setFences(until deadline: ContinuousClock.Instant, of names: [String]) async -> [String] {
        let request = "fence until=\(BootClock.nanoseconds(at: deadline))"
        let channels = names.map { ($0, ControlChannel(socketPath: runtimeDirectory($0).controlSocket)) }
        let failures = await withTaskGroup(of: String?.self) { group in
            for (name, channel) in channels {
                group.addTask {
                    do {
                        try await channel.send(request)
                        return nil
                    } catch {
                        return "VM \(name): \(error)"
                    }
                }
            }
            return await group.reduce(into: [String]()) { if let failure = $1 { $0.append(failure) } }
        }
        for failure in failures { logger.warning("cluster: cannot move the fence deadline of \(failure)") }
        return failures
    }
}
