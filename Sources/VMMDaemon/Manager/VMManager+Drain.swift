import Foundation
import Glibc
import VMMAPI

/// Host drain: every running VM migrates to one of the given daemons, stopped VMs'
/// definitions follow where their files are there too (shared storage), and the host
/// starts no VM until undrained.
extension VMManager {
    /// The most migrations a drain runs at once.
    static let maximumDrainParallelism = 16

    private var drainFile: String { "\(configuration.stateDirectory)/draining" }

    /// Drains the host; returns once every VM was tried. Starting the drain puts the host in
    /// drain mode at once (kept across daemon restarts until `undrain`).
    func startDrain(_ request: HostDrainRequest) async throws -> HostDrainReport {
        guard peers != nil else {
            throw APIError(code: .conflict, message: "this daemon cannot migrate VMs: start vmmd with --listen and --tls-*")
        }
        let targets = if request.to.isEmpty { try await clusterDrainTargets() } else { try request.to.map(HostAndPort.peer) }
        let parallel = request.parallel ?? 2
        guard (1...Self.maximumDrainParallelism).contains(parallel) else {
            throw APIError(code: .badRequest, message: "parallel must be 1 to \(Self.maximumDrainParallelism), not \(parallel)")
        }
        if let drain, !drain.finished { throw APIError(code: .conflict, message: "a drain is under way already") }
        let moving = vms.values.filter { $0.state == .running || $0.state == .paused }.map(\.definition.name).sorted()
        let resting = vms.values.filter { $0.state == .stopped || $0.state == .crashed }.map(\.definition.name).sorted()
        drain = HostDrainReport(
            finished: false, vms: (moving + resting).map { HostDrainReport.Entry(vm: $0, outcome: "pending") }, running: moving.count)
        try? AtomicFile.write(Data("draining\n".utf8), to: drainFile)
        logger.info("draining to \(targets.map(\.description).joined(separator: ", ")): \(moving.count) running VM(s), \(resting.count) stopped")

        // Memory already promised to each target by this drain (its MemAvailable lags).
        var promised: [HostAndPort: UInt64] = [:]
        await withTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for name in moving {
                if inFlight == parallel {
                    await group.next()
                    inFlight -= 1
                }
                guard let memory = vms[name]?.definition.memory else { continue }
                guard let target = await pickTarget(targets, memory: memory, promised: promised) else {
                    recordDrain(name, to: nil, "failed", "no destination answered or had \(memory) bytes of memory available")
                    continue
                }
                promised[target, default: 0] += memory
                recordDrain(name, to: target.description, "migrating", nil)
                inFlight += 1
                group.addTask {
                    do {
                        _ = try await self.migrate(name, VMMigrateRequest(to: target.description))
                        await self.recordDrain(name, to: target.description, "moved", nil)
                    } catch {
                        await self.recordDrain(name, to: target.description, "failed", (error as? APIError)?.message ?? "\(error)")
                    }
                }
            }
        }
        for name in resting {
            if cluster != nil { await moveDefinitionInCluster(name) } else { await moveDefinition(name, targets) }
        }
        drain?.finished = true
        drain?.running = vms.values.filter { $0.state.hasProcess }.count
        logger.info("drain finished: \(drain?.running ?? 0) VM(s) still running here")
        return drain!
    }

    /// Leaves drain mode: VMs may start here again.
    func undrain() throws {
        if let drain, !drain.finished {
            throw APIError(code: .conflict, message: "a drain is under way: wait for it to finish, then undrain")
        }
        drain = nil
        unlink(drainFile)
        logger.info("undrained: VMs may start here again")
    }

    /// A 409 while the host is draining (for anything that would start a VM here).
    func checkNotDraining(_ action: String) throws {
        guard drain != nil else { return }
        throw APIError(
            code: .conflict,
            message: "cannot \(action): this host is draining (`vmctl host` shows it); `vmctl host undrain` lets VMs start here again")
    }

    /// `normal`, or `draining` while VMs may not start here (`GET /v1/host`'s `mode`).
    var mode: String { drain == nil ? "normal" : "draining" }

    /// Tells the cluster (if any) that the mode changed: its record says so, and the
    /// manager places nothing on a draining host.
    func announceMode() {
        guard let cluster else { return }
        let mode = mode
        Task { await cluster.setMode(mode) }
    }

    /// In cluster mode: this host's membership, told the mode now and of every change.
    func joined(_ membership: ClusterMembership) async {
        cluster = membership
        await membership.setMode(mode)
        await membership.whenRegistered { lease in await self.reconcile(lease: lease) }
    }

    /// At start: a host drained before the restart stays in drain mode.
    func loadDrainMode() {
        if access(drainFile, F_OK) == 0 { drain = HostDrainReport(finished: true, vms: [], running: 0) }
    }

    func recordDrain(_ name: String, to: String?, _ outcome: String, _ reason: String?) {
        guard let index = drain?.vms.firstIndex(where: { $0.vm == name }) else { return }
        drain?.vms[index] = HostDrainReport.Entry(vm: name, to: to, outcome: outcome, reason: reason)
    }

    /// The reachable target with the most memory available after what this drain sent it,
    /// if it has `memory` left.
    private func pickTarget(_ targets: [HostAndPort], memory: UInt64, promised: [HostAndPort: UInt64]) async -> HostAndPort? {
        guard let peers else { return nil }
        var best: (HostAndPort, UInt64)?
        for target in targets {
            guard let host = try? await peers.call(target, .GET, "/v1/host", as: HostInfo.self), host.mode != "draining" else {
                continue
            }
            // A cluster host offers what its admission may still promise; others their free RAM.
            let free = host.cluster != nil ? host.committed.map { $0.memoryCapacity &- min($0.memory, $0.memoryCapacity) } : nil
            let offered = free ?? host.availableMemory ?? host.memory
            let available = offered &- min(promised[target] ?? 0, offered)
            if available >= memory, available > best?.1 ?? 0 { best = (target, available) }
        }
        return best?.0
    }

    /// Moves a stopped VM's definition to the first target that accepts it: one whose
    /// kernel and disks are at the same paths there (shared storage). A clone that never
    /// started stays (its snapshot is here).
    private func moveDefinition(_ name: String, _ targets: [HostAndPort]) async {
        guard let peers, let vm = vms[name], !vm.state.hasProcess else { return }
        guard vm.definition.restoreFrom == nil else {
            return recordDrain(name, to: nil, "failed", "a clone that never started needs its snapshot, which is here")
        }
        var reasons: [String] = []
        for target in targets {
            do {
                try await peers.send(target, .POST, "/v1/vms", body: vm.definition)
            } catch {
                reasons.append("\(target): \(error)")
                continue
            }
            // It may have been started or changed meanwhile: then both hosts have it defined,
            // and this one keeps its VM running (never removed while it runs).
            guard let now = vms[name], !now.state.hasProcess, busy[name] == nil else {
                return recordDrain(name, to: target.description, "failed", "it was started here during the drain")
            }
            try? saving { try store.remove(name) }
            vms[name] = nil
            try? snapshots.removeAll(name)
            runtimeDirectory(name).remove()
            markLentDisks(now.definition, to: target.description)
            departed[name] = Departure(to: target.description, time: Date(), console: now.console)
            publish(.migrated, name, snapshot: nil, peer: target.description, reason: "definition moved to \(target)", state: .stopped)
            return recordDrain(name, to: target.description, "defined", nil)
        }
        recordDrain(name, to: nil, "failed", "no destination took its definition: \(reasons.joined(separator: "; "))")
    }
}
