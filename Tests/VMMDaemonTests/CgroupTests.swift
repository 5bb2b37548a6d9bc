import ClusterTestSupport
import Foundation
import Glibc
import Testing

/// Each `vmm` in a cgroup of its own, under the daemon's delegated one; and the fallback
/// when the daemon's cgroup is not its to manage. The tests make their cgroups under the
/// cgroup v2 mount and remove them, with every process in them, at the end.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct CgroupTests {
    @Test func eachVMMRunsInItsOwnCgroupAndOutlivesTheDaemon() async throws {
        guard let scratch = TestCgroup.make() else {
            // The fallback test covers this host then.
            print("CgroupTests: skipping delegation: \(TestCgroup.unavailableReason)")
            return
        }
        defer { scratch.destroy() }
        let daemon = try DaemonHarness()
        daemon.wrapper = scratch.wrapper()
        // Not a systemd service even if the tests run in one (no Delegate= to honour).
        let environment = ["INVOCATION_ID": ""]
        do {
            try await daemon.start(environment: environment)
            #expect(daemon.log.contains("cgroups: VMs go to \(scratch.path)/vms/NAME"))
            let daemonPID = try #require(daemon.daemonPID)
            #expect(TestCgroup.of(daemonPID) == "\(scratch.relativePath)/daemon")

            try await daemon.create("boxed")
            #expect(try await daemon.request("POST", "/v1/vms/boxed/start").state == "running")
            let pid = try #require(try await daemon.pid("boxed"))
            #expect(TestCgroup.of(pid) == "\(scratch.relativePath)/vms/boxed")
            #expect(TestCgroup.of(pid) != TestCgroup.of(daemonPID))

            try await daemon.stopDaemon(signal: SIGKILL)
            try await Task.sleep(for: .milliseconds(300))
            #expect(!hasEnded(pid), "the vmm outlives its daemon")
            #expect(TestCgroup.of(pid) == "\(scratch.relativePath)/vms/boxed")

            // The next daemon claims the same cgroup, re-adopts the VM and removes the
            // VM's cgroup once its vmm has ended.
            try await daemon.start(environment: environment)
            #expect(try await daemon.state("boxed") == "running")
            #expect(try await daemon.request("POST", "/v1/vms/boxed/kill").state == "stopped")
            #expect(try await eventually(seconds: 5) { !FileManager.default.fileExists(atPath: "\(scratch.path)/vms/boxed") })
        } catch {
            Issue.record("vmmd log:\n\(daemon.log)")
            await daemon.tearDown()
            throw error
        }
        await daemon.tearDown()
    }

    @Test func aDaemonInASharedCgroupLeavesVMsInIt() async throws {
        // In a cgroup that holds another process too (a `sleep`), or, where no cgroup can be
        // made, wherever the daemon runs.
        let scratch = TestCgroup.make()
        defer { scratch?.destroy() }
        let daemon = try DaemonHarness()
        daemon.wrapper = scratch?.wrapper(companion: "sleep 600") ?? []
        do {
            try await daemon.start()
            #expect(daemon.log.contains("cgroups: not delegated ("))
            #expect(daemon.log.contains("VMs share the daemon's cgroup"))
            let daemonPID = try #require(daemon.daemonPID)
            if let scratch { #expect(TestCgroup.of(daemonPID) == scratch.relativePath) }

            try await daemon.create("shared")
            #expect(try await daemon.request("POST", "/v1/vms/shared/start").state == "running")
            let pid = try #require(try await daemon.pid("shared"))
            #expect(TestCgroup.of(pid) != nil)
            #expect(TestCgroup.of(pid) == TestCgroup.of(daemonPID))
            #expect(try await daemon.request("POST", "/v1/vms/shared/kill").state == "stopped")
        } catch {
            Issue.record("vmmd log:\n\(daemon.log)")
            await daemon.tearDown()
            throw error
        }
        await daemon.tearDown()
    }
}

/// A scratch cgroup `<cgroup2 mount>/vmm-test-<id>`.
struct TestCgroup {
    let mount: String
    let name: String
    var path: String { "\(mount)/\(name)" }
    var relativePath: String { "/\(name)" }

    /// Why `make` returns nil on this host.
    nonisolated(unsafe) static var unavailableReason = ""

    static func make() -> TestCgroup? {
        guard let mount = mountPoint() else {
            unavailableReason = "no cgroup v2 hierarchy is mounted (/proc/self/mountinfo)"
            return nil
        }
        let cgroup = TestCgroup(mount: mount, name: "vmm-test-\(UUID().uuidString.prefix(8))")
        guard mkdir(cgroup.path, 0o755) == 0 else {
            unavailableReason = "cannot create \(cgroup.path): \(String(cString: strerror(errno)))"
            return nil
        }
        return cgroup
    }

    /// A shell that moves itself into this cgroup (starting `companion` in the background
    /// there first, if given) and then execs the daemon.
    func wrapper(companion: String? = nil) -> [String] {
        let start = companion.map { "\($0) </dev/null >/dev/null 2>&1 & " } ?? ""
        return ["/bin/sh", "-c", "echo $$ > \(path)/cgroup.procs || exit 1; \(start)exec \"$0\" \"$@\""]
    }

    /// Kills every process in the subtree and removes its cgroups, deepest first.
    func destroy() {
        let tree = subtree()
        for cgroup in tree {
            let procs = (try? String(contentsOfFile: "\(cgroup)/cgroup.procs", encoding: .utf8)) ?? ""
            for pid in procs.split(separator: "\n").compactMap({ pid_t($0) }) { kill(pid, SIGKILL) }
        }
        for cgroup in tree.sorted(by: { $0.count > $1.count }) {
            // A killed process leaves its cgroup a moment later (zombies do not count).
            for _ in 0..<100 where rmdir(cgroup) != 0 && errno == EBUSY { usleep(20_000) }
        }
    }

    private func subtree() -> [String] {
        var result = [path]
        var index = 0
        while index < result.count {
            let children = (try? FileManager.default.contentsOfDirectory(atPath: result[index])) ?? []
            for child in children {
                var isDirectory: ObjCBool = false
                let full = "\(result[index])/\(child)"
                if FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), isDirectory.boolValue {
                    result.append(full)
                }
            }
            index += 1
        }
        return result
    }

    /// The cgroup v2 path of `pid` (`0::PATH` in /proc/PID/cgroup).
    static func of(_ pid: pid_t) -> String? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8) else { return nil }
        return text.split(separator: "\n").first { $0.hasPrefix("0::") }.map { String($0.dropFirst(3)) }
    }

    /// Where the root of the cgroup v2 hierarchy is mounted (/sys/fs/cgroup, or
    /// /sys/fs/cgroup/unified on a hybrid host).
    static func mountPoint() -> String? {
        rootMounts().first { $0.type == "cgroup2" }?.path
    }

    /// The cgroup hierarchies mounted at their root, from /proc/self/mountinfo: the file
    /// system type (`cgroup2`, or `cgroup` for v1) with its super options (a v1 hierarchy's
    /// controllers), and where it is mounted.
    static func rootMounts() -> [(type: String, options: [Substring], path: String)] {
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let halves = line.components(separatedBy: " - ")
            guard halves.count == 2 else { return nil }
            let fields = halves[0].split(separator: " "), kind = halves[1].split(separator: " ")
            guard fields.count >= 5, fields[3] == "/", kind.count >= 3, kind[0].hasPrefix("cgroup") else { return nil }
            return (String(kind[0]), kind[2].split(separator: ","), String(fields[4]))
        }
    }
}
