import Foundation
import Glibc
import VMMAPI

/// Start, stop and the other actions. Each returns once the transition has completed.
extension VMManager {
    /// How long a new `vmm` gets to answer on its control socket.
    static let startTimeout = 30.0
    /// How long a forced stop may take before the process gets SIGKILL.
    static let forcedStopTimeout = 10.0

    func start(_ name: String) async throws -> VMInfo {
        let vm = try lookup(name)
        try VMAction.start.check(vm.state, vm: name)
        try checkIdle(name)
        try vm.definition.validate()
        if let source = vm.definition.restoreFrom { return try await startClone(name, from: source) }
        return try await launch(name, try launcher.arguments(for: vm.definition, in: runtimeDirectory(name)))
    }

    /// Spawns `vmm` with `arguments` for the stopped or crashed VM `name` and waits until it
    /// answers on its control socket (the VM is then running, or paused if it says so).
    func launch(_ name: String, _ arguments: [String]) async throws -> VMInfo {
        try checkNotDraining("start VM \(name)")
        if let definition = vms[name]?.definition { try admit(definition, to: "start VM \(name)") }
        if cluster != nil {
            try await claimOwnership(name)
            guard let state = vms[name]?.state, !state.hasProcess else {
                throw APIError(code: .conflict, message: "VM \(name) was started or deleted meanwhile")
            }
        }
        let directory = runtimeDirectory(name)
        do {
            try directory.prepare()
        } catch {
            throw APIError.internalError("cannot prepare \(directory.path): \(error)")
        }
        let jail = try jailArguments(name)
        let process = try launcher.launch(arguments + jail.arguments, in: directory, jailClaim: jail.claim)
        // Its own cgroup, before it opens /dev/kvm and allocates guest memory.
        cgroups.place(process.pid, vm: name, logger: logger)
        if let definition = vms[name]?.definition,
            let problem = cgroups.limit(process.pid, vm: name, limits: definition.limits, guestMemory: definition.memory)
        {
            // A VM without the limits it was promised does not run.
            process.killAndReap()
            cgroups.release(vm: name, logger: logger)
            directory.clean()
            throw APIError(code: .conflict, message: "VM \(name) not started: \(problem)")
        }
        var run = ManagedVM.Run(process: process, startedAt: Date())
        run.jailID = jail.claim?.id
        vms[name]?.run = run
        vms[name]?.console = ConsoleLog()
        transition(name, to: .starting, reason: "vmm pid \(process.pid)")
        try watchOrKill(name, process)

        let status: ControlChannel.Status?
        do {
            status = try await Self.waitUntilReady(ControlChannel(socketPath: directory.controlSocket), run)
        } catch {
            vms[name]?.run?.endRequested = true
            process.signal(SIGKILL)
            _ = await run.exited.wait(seconds: Self.forcedStopTimeout)
            throw error
        }
        // The actor ran other work meanwhile: the process may have ended or been killed.
        guard let current = vms[name], current.run?.process === process, current.state == .starting else {
            let after = vms[name]
            throw APIError.internalError(
                "VM \(name) did not start: it is \(after?.state.rawValue ?? "deleted")\(after?.lastExit.map { " (\($0))" } ?? "")")
        }
        guard let status else {
            vms[name]?.run?.endRequested = true
            process.signal(SIGKILL)
            _ = await run.exited.wait(seconds: Self.forcedStopTimeout)
            throw APIError.internalError("vmm for \(name) did not answer on its control socket within \(Int(Self.startTimeout)) s")
        }
        do {
            try await fenceNewlyStarted(name)
        } catch {
            process.signal(SIGKILL)
            _ = await run.exited.wait(seconds: Self.forcedStopTimeout)
            throw error
        }
        current.console.record(from: directory.consoleSocket, monitor: monitor)
        transition(name, to: status.state == "paused" ? .paused : .running)
        return try info(name)
    }

    /// Presses the power button and waits for the guest to power off, forcing the stop
    /// after the timeout; or forces it at once.
    func stop(_ name: String, _ request: VMStopRequest) async throws -> VMInfo {
        let vm = try lookup(name)
        try VMAction.stop.check(vm.state, vm: name)
        // A paused guest cannot see the power button.
        if request.force == true || vm.state == .paused { return try await kill(name) }
        guard let run = vm.run else { throw APIError.internalError("VM \(name) has no process") }
        vms[name]?.run?.endRequested = true
        transition(name, to: .stopping, reason: "power button")
        let control = ControlChannel(socketPath: runtimeDirectory(name).controlSocket)
        try? await control.send("shutdown")
        let timeout = max(0, request.timeout ?? VMStopRequest.defaultTimeout)
        if await !run.exited.wait(seconds: timeout) {
            logger.info("VM \(name) ignored the power button for \(timeout) s; forcing the stop")
            await forceEnd(run, control)
        }
        return try info(name)
    }

    /// Stops the VM at once (the `vmm` ends its VM; SIGKILL if it does not).
    func kill(_ name: String) async throws -> VMInfo {
        let vm = try lookup(name)
        try VMAction.kill.check(vm.state, vm: name)
        guard let run = vm.run else { throw APIError.internalError("VM \(name) has no process") }
        vms[name]?.run?.endRequested = true
        transition(name, to: .stopping, reason: "forced stop")
        await forceEnd(run, ControlChannel(socketPath: runtimeDirectory(name).controlSocket))
        return try info(name)
    }

    func pause(_ name: String) async throws -> VMInfo {
        try await command(.pause, name, then: .paused)
    }

    func resume(_ name: String) async throws -> VMInfo {
        try await command(.resume, name, then: .running)
    }

    /// Resets the guest; the same `vmm` boots it again, so the VM stays running.
    func reboot(_ name: String) async throws -> VMInfo {
        try await command(.reboot, name, then: .running)
    }

    /// Sends a control command and, once the `vmm` confirms, moves the VM to `state`.
    private func command(_ action: VMAction, _ name: String, then state: VMState) async throws -> VMInfo {
        let vm = try lookup(name)
        try action.check(vm.state, vm: name)
        try await ControlChannel(socketPath: runtimeDirectory(name).controlSocket).send(action.rawValue)
        if vms[name]?.run?.process === vm.run?.process, vms[name]?.state == vm.state {
            transition(name, to: state, reason: action == .reboot ? "reboot" : nil)
        }
        return try info(name)
    }

    /// Asks the `vmm` to stop, then kills it if it has not ended in time, and waits for the
    /// exit to be recorded.
    private func forceEnd(_ run: ManagedVM.Run, _ control: ControlChannel) async {
        let asked = (try? await control.send("stop")) != nil
        if asked, await run.exited.wait(seconds: Self.forcedStopTimeout) { return }
        run.process.signal(SIGKILL)
        _ = await run.exited.wait(seconds: Self.forcedStopTimeout)
    }

    /// Polls `status` until the `vmm` answers (nil: it ended or the timeout passed); throws
    /// when the daemon cannot even ask (no thread to ask from) for `starvedLimit`, rather
    /// than wait out the timeout. A short starvation is waited out: the `vmm` competes for
    /// the same tasks, and when it is the one that fails it ends with its own reason.
    private static func waitUntilReady(
        _ control: ControlChannel, _ run: ManagedVM.Run
    ) async throws(APIError) -> ControlChannel.Status? {
        let begin = ContinuousClock.now
        let deadline = begin + .seconds(startTimeout)
        let starvedLimit = Duration.seconds(2)
        var starvedSince: ContinuousClock.Instant?
        while ContinuousClock.now < deadline, !run.exited.hasFired {
            do {
                return try await control.status()
            } catch let error as APIError where error.code == APIError.Code.unavailable.rawValue {
                let since = starvedSince ?? ContinuousClock.now
                if ContinuousClock.now - since >= starvedLimit { throw error }
                starvedSince = since
            } catch {
                starvedSince = nil
            }
            // A vmm answers within ~10 ms: poll finely at first (each ms here delays the
            // start call), then back off.
            try? await Task.sleep(for: .milliseconds(ContinuousClock.now - begin < .milliseconds(500) ? 2 : 20))
        }
        return nil
    }
}
