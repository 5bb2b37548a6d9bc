import Foundation
import VMMAPI

/// Watching `vmm` processes end, and finding the ones a previous daemon left running.
extension VMManager {
    /// Has the monitor report the process's end to this actor.
    func watch(_ name: String, _ process: ProcessHandle) throws(APIError) {
        try process.watch(with: monitor) { ending in
            Task { await self.processEnded(name, process, ending) }
        }
    }

    /// Watches a `vmm` this daemon just spawned, or kills it: a process whose end the
    /// daemon would never learn must not run. The VM is left crashed with the reason.
    func watchOrKill(_ name: String, _ process: ProcessHandle) throws(APIError) {
        do {
            try watch(name, process)
        } catch {
            logger.error("VM \(name): cannot watch vmm pid \(process.pid), killed it: \(error.message)")
            process.killAndReap()
            vms[name]?.run = nil
            vms[name]?.lastExit = error.message
            transition(name, to: .crashed, reason: error.message)
            throw error
        }
    }

    /// Records how a run ended: a requested stop or the guest's own power-off leaves the VM
    /// stopped; anything else (a crash, a signal, no exit file) leaves it crashed.
    func processEnded(_ name: String, _ process: ProcessHandle, _ ending: ProcessHandle.Ending) {
        guard let vm = vms[name], let run = vm.run, run.process === process else { return }
        let directory = runtimeDirectory(name)
        let record = directory.readExitRecord()
        let summary = record?.summary ?? directory.summary(ofEnding: ending, pid: process.pid)
        if vm.state == .incoming {
            vms[name]?.run = nil
            incomingEnded(name, summary)
            run.exited.fire()
            return
        }
        if record?.reason == "migrated" || outgoing[name]?.confirmed == true {
            if let migration = record?.migration, let target = outgoing[name]?.to {
                outgoing[name]?.progress = migration.progress(to: target.description)
                outgoing[name]?.downtimeMs = migration.downtimeMs
            }
            return depart(name, to: outgoing[name]?.to.description ?? Self.migrationTarget(directory) ?? "another host", run)
        }
        directory.clean()
        cgroups.release(vm: name, logger: logger)
        let cleanEnd = run.endRequested || (vm.state != .starting && record?.isGuestInitiated == true)
        vms[name]?.run = nil
        vms[name]?.lastExit = summary
        // A fenced HA VM is the cluster's to restart (docs/cluster.md section 4): pending,
        // which this host publishes when etcd is back, and the manager acts on.
        let fenced = record?.reason == "fenced" && cluster != nil
        transition(name, to: fenced ? .pending : cleanEnd ? .stopped : .crashed, reason: summary)
        clusterWrite(.release(name))
        run.exited.fire()
    }

    /// Loads the stored definitions, re-adopts the `vmm` processes still running for them
    /// and starts the autostart VMs that are not running.
    public func load() async {
        await recoverIncoming()
        loadDrainMode()
        for definition in store.loadAll(skipping: { file, error in
            logger.error("skipping definition \(file): \(error)")
        }) {
            vms[definition.name] = ManagedVM(definition: definition)
            await adopt(definition.name)
        }
        // What a daemon that died mid-snapshot or mid-clone left.
        snapshots.removePartials()
        removeOrphanedDiskCopies()
        // In a cluster, only once etcd says which VMs are this host's (`reconcile`).
        if configuration.cluster == nil { autostart() }
    }

    /// Starts the autostart VMs that are not running.
    func autostart() {
        for (name, vm) in vms where vm.definition.autostart && !vm.state.hasProcess {
            Task {
                do {
                    _ = try await self.start(name)
                } catch {
                    self.logger.error("autostart of VM \(name) failed: \(error)")
                }
            }
        }
    }

    /// Takes over the `vmm` a previous daemon started for `name`, if it still runs and
    /// answers; otherwise settles the VM's state from the exit file it left.
    private func adopt(_ name: String) async {
        let directory = runtimeDirectory(name)
        let pid = directory.readPID()
        if let pid, let pidfd = Linux.pidfdOpen(pid) {
            let process = ProcessHandle(pid: pid, pidfd: pidfd, isChild: false)
            // A zombie (nobody reaps orphans here) has an empty cmdline and polls as ended.
            if !process.hasExited, directory.isServed(by: pid) {
                guard let status = try? await ControlChannel(socketPath: directory.controlSocket).status() else {
                    // Leave it alone: it is not ours to kill, and it may still be a VM.
                    vms[name]?.lastExit = "vmm pid \(pid) does not answer on its control socket"
                    logger.warning("VM \(name): vmm pid \(pid) runs but does not answer; not adopted")
                    transition(name, to: .crashed, reason: vms[name]?.lastExit)
                    return
                }
                let uptime = Double(status.uptimeMilliseconds) / 1000
                vms[name]?.run = ManagedVM.Run(process: process, startedAt: Date().addingTimeInterval(-uptime))
                vms[name]?.run?.jailID = Self.jailID(fromCommandLine: RuntimeDirectory.commandLine(of: pid))
                do {
                    try watch(name, process)
                } catch {
                    vms[name]?.lastExit = "vmm pid \(pid) runs but cannot be watched: \(error.message)"
                    logger.error("VM \(name): \(vms[name]?.lastExit ?? ""); not adopted")
                    transition(name, to: .crashed, reason: vms[name]?.lastExit)
                    return
                }
                vms[name]?.console.record(from: directory.consoleSocket, monitor: monitor)
                transition(name, to: status.state == "paused" ? .paused : .running, reason: "adopted vmm pid \(pid)")
                Task { await self.settleMigrationAfterRestart(name) }
                return
            }
        }
        // It ended while no daemon ran: killed (its pid file is left) or by itself (its
        // exit file is; a vmm that ends removes its pid file).
        let record = directory.readExitRecord()
        guard pid != nil || record != nil else { return }
        if record?.reason == "migrated" {
            return depart(name, to: Self.migrationTarget(directory) ?? "another host", nil)
        }
        directory.clean()
        cgroups.release(vm: name, logger: logger)
        vms[name]?.lastExit = record?.summary ?? "vmm pid \(pid ?? 0) ended while vmmd was away, no exit file"
        if record?.reason == "fenced", configuration.cluster != nil {
            // As when it is fenced under a running daemon: the cluster's to restart.
            transition(name, to: .pending, reason: vms[name]?.lastExit)
        } else if record?.isGuestInitiated != true {
            transition(name, to: .crashed, reason: vms[name]?.lastExit)
        }
    }
}
