import ClusterTestSupport
import Foundation
import Glibc
import Testing

/// A host out of tasks (threads and processes count alike against a pids limit) ends a
/// start in an error answer and a consistent state, never a hang; the daemon answers on and
/// starts VMs again once there is room. The limit is a `pids.max` on a cgroup of the test's
/// that holds the daemon and its `vmm` processes.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct ResourceExhaustionTests {
    @Test func startsBeyondTheTaskLimitFailCleanlyAndLaterOnesWork() async throws {
        let limit = try #require(PidsLimit.make(), "no pids controller to limit the daemon with: \(PidsLimit.unavailableReason)")
        defer { limit.destroy() }
        let daemon = try DaemonHarness()
        daemon.wrapper = limit.wrapper()
        do {
            try await daemon.start()
            for name in ["first", "second"] { try await daemon.create(name) }
            #expect(try await daemon.request("POST", "/v1/vms/first/start").state == "running")

            // Not one task to spare: no vmm can be spawned, no thread started to talk to one.
            try limit.setMaximum(limit.current())
            let begin = ContinuousClock.now
            let refused = try await daemon.request("POST", "/v1/vms/second/start")
            #expect(refused.status == 503, "\(refused.text)")
            #expect(refused.text.contains("the host cannot start another thread or process"), "\(refused.text)")
            #expect(ContinuousClock.now - begin < .seconds(10), "answered at once, not after the start timeout")
            #expect(try await daemon.request("GET", "/v1/vms").status == 200, "the daemon answers on")
            #expect(["stopped", "crashed"].contains(try await daemon.state("second")), "not left starting")

            // A few tasks to spare: the vmm starts but cannot create all its threads.
            try limit.setMaximum(limit.current() + 2)
            let starved = try await daemon.request("POST", "/v1/vms/second/start")
            #expect(starved.status >= 500, "\(starved.text)")
            // vmm says so and exits with status 6 (no trap, no missing exit file).
            #expect(starved.text.contains("host-failure (status 6)"), "\(starved.text)")
            #expect(starved.text.contains("out of threads or processes"), "\(starved.text)")
            #expect(ContinuousClock.now - begin < .seconds(50), "a failed start ends within the start timeout")
            #expect(try await eventually(seconds: 10) { ["stopped", "crashed"].contains(try await daemon.state("second")) })
            #expect(try await daemon.pid("second") == nil, "no vmm left behind")

            // Room again: the same VM starts, and both stop.
            try limit.setMaximum(nil)
            #expect(try await daemon.request("POST", "/v1/vms/second/start").state == "running")
            for name in ["first", "second"] {
                #expect(try await daemon.request("POST", "/v1/vms/\(name)/kill").state == "stopped")
            }
        } catch {
            Issue.record("vmmd log:\n\(daemon.log)")
            await daemon.tearDown()
            throw error
        }
        await daemon.tearDown()
    }
}

/// A scratch cgroup with the pids controller: cgroup v2's when it has one, else the v1
/// `pids` hierarchy of a hybrid host.
struct PidsLimit {
    let path: String

    /// Why `make` returns nil on this host.
    nonisolated(unsafe) static var unavailableReason = ""

    static func make() -> PidsLimit? {
        guard let parent = controllerRoot() else {
            unavailableReason = "neither cgroup v2 nor a v1 hierarchy offers the pids controller (/proc/self/mountinfo)"
            return nil
        }
        let limit = PidsLimit(path: "\(parent)/vmm-pids-\(UUID().uuidString.prefix(8))")
        guard mkdir(limit.path, 0o755) == 0 else {
            unavailableReason = "cannot create \(limit.path): \(String(cString: strerror(errno)))"
            return nil
        }
        return limit
    }

    /// A shell that moves itself into this cgroup and then execs the daemon.
    func wrapper() -> [String] {
        ["/bin/sh", "-c", "echo $$ > \(path)/cgroup.procs || exit 1; exec \"$0\" \"$@\""]
    }

    func current() throws -> Int {
        let text = try String(contentsOfFile: "\(path)/pids.current", encoding: .utf8)
        guard let value = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw HarnessError("\(path)/pids.current holds \(text)")
        }
        return value
    }

    /// Sets `pids.max` (nil: no limit).
    func setMaximum(_ tasks: Int?) throws {
        try (tasks.map(String.init) ?? "max").write(toFile: "\(path)/pids.max", atomically: false, encoding: .utf8)
    }

    /// Kills every process in the cgroup and removes it (with any cgroups made under it).
    func destroy() {
        try? setMaximum(nil)
        for _ in 0..<100 {
            let procs = (try? String(contentsOfFile: "\(path)/cgroup.procs", encoding: .utf8)) ?? ""
            let pids = procs.split(separator: "\n").compactMap { pid_t($0) }
            pids.forEach { kill($0, SIGKILL) }
            if pids.isEmpty, rmdir(path) == 0 || errno != EBUSY { return }
            usleep(20_000)
        }
    }

    /// The cgroup v2 mount if its root offers pids to children, else the v1 pids mount.
    private static func controllerRoot() -> String? {
        let mounts = TestCgroup.rootMounts()
        if let v2 = mounts.first(where: { $0.type == "cgroup2" }),
           (try? String(contentsOfFile: "\(v2.path)/cgroup.subtree_control", encoding: .utf8))?.contains("pids") == true {
            return v2.path
        }
        return mounts.first { $0.type == "cgroup" && $0.options.contains("pids") }?.path
    }
}
