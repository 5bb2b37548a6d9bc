import ClusterTestSupport
import Foundation
import Glibc
import Testing
import TestSupport

/// Every `vmm` the daemon starts is jailed (docs/jail.md): its own user from
/// --vm-uid-range, no capabilities, a root holding only its folder, and nothing of
/// another VM in reach.
extension DaemonTests {
    /// The first child of `pid`, if it has any.
    static func child(of pid: Int32) -> Int32? {
        let children = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
        return children.split(separator: " ").compactMap { Int32($0) }.first
    }

    /// The jailed VM process: the pid the daemon reports, pid 1 of its PID namespace from
    /// its exec, with no keeper and no child.
    private func startJailed(_ daemon: DaemonHarness, _ name: String, disk: String) async throws -> Int32 {
        _ = FileManager.default.createFile(atPath: disk, contents: Data(count: 1 << 20), attributes: [.posixPermissions: 0o600])
        let body = #"{"name":"\#(name)","kernel":"\#(TestPaths.kernel("echo"))","memory":16777216,"disks":[{"path":"\#(disk)"}]}"#
        #expect(try await daemon.request("POST", "/v1/vms", body: body).status == 201)
        #expect(try await daemon.request("POST", "/v1/vms/\(name)/start").state == "running")
        let vm = try #require(try await daemon.pid(name))
        #expect(ProcessStatus.fields(vm)["NSpid"]?.hasSuffix("\t1") == true, "vmm \(vm) is pid 1 of its PID namespace")
        #expect(Self.child(of: vm) == nil, "vmm \(vm) runs the VM itself")
        return vm
    }

    @Test func everyVMMRunsJailedUnderItsOwnUserWithNothingElseInReach() async throws {
        try await withDaemon(arguments: ["--vm-uid-range", "231000-231009"]) { daemon in
            let vmA = try await startJailed(daemon, "alpha", disk: "\(daemon.stateDirectory)/alpha.img")
            let vmB = try await startJailed(daemon, "beta", disk: "\(daemon.stateDirectory)/beta.img")
            let userA = ProcessStatus.fields(vmA)["Uid"]?.split(separator: "\t").first.map(String.init)
            let userB = ProcessStatus.fields(vmB)["Uid"]?.split(separator: "\t").first.map(String.init)
            #expect(userA == "231000" && userB == "231001", "\(String(describing: userA)) \(String(describing: userB))")
            for pid in [vmA, vmB] {
                let status = ProcessStatus.fields(pid)
                for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
                    #expect(status[set] == "0000000000000000", "pid \(pid) \(set) \(status[set] ?? "missing")")
                }
                #expect(status["NoNewPrivs"] == "1", "pid \(pid)")
                #expect(status["Groups"] == "", "pid \(pid): \(status["Groups"] ?? "missing")")
            }
            let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(vmA)/task").filter { $0 != "\(vmA)" }
            for task in tasks {
                #expect(ProcessStatus.fields(vmA, thread: Int32(task))["Seccomp"] == "2", "task \(task) of the VM process is filtered")
            }
            // Its root is its folder: what /proc shows of it is that folder's contents.
            for (name, pid) in [("alpha", vmA), ("beta", vmB)] {
                let root = "\(daemon.runtimeDirectory)/vms/\(name)/root"
                let seen = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/root").sorted()
                #expect(seen == (try FileManager.default.contentsOfDirectory(atPath: root).sorted()), "\(seen)")
                #expect(Set(seen).isSuperset(of: ["control.sock", "console.sock", "vmm.pid", "snapshots"]), "\(seen)")
                #expect(!seen.contains("vmm.log") && !seen.contains("tmp") && !seen.contains("proc"), "\(seen)")
            }
            // Namespaces of its own (the VM process is pid 1 of its PID namespace).
            for namespace in ["mnt", "pid", "ipc", "uts"] {
                let own = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/\(namespace)")
                #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(vmA)/ns/\(namespace)") != own)
            }
            #expect(ProcessStatus.fields(vmA)["NSpid"]?.hasSuffix("\t1") == true)

            // From inside alpha's namespaces, as alpha's user, beta's image is out of reach;
            // outside them as well (only root may open it; its vmm holds a descriptor).
            let betaImage = "\(daemon.stateDirectory)/beta.img"
            let inside = try await ChildProcess.run(["/usr/bin/python3", "-c", Self.openFromNamespaces, String(vmA), "231000", betaImage])
            #expect(inside.output.contains("refused 2"), "\(inside)")
            #expect(inside.output.contains("['console.sock', 'control.sock'"), "\(inside)")
            let outside = try await ChildProcess.run(
                ["/usr/bin/setpriv", "--reuid", "231000", "--regid", "231000", "--clear-groups", "/usr/bin/cat", betaImage])
            #expect(outside.status != 0, "\(outside)")

            // Killing every process of alpha's user ends alpha and nothing else.
            // (util-linux kill -1 reports failure for its own process, which it cannot spare.)
            _ = try await ChildProcess.run(
                ["/usr/bin/setpriv", "--reuid", "231000", "--regid", "231000", "--clear-groups", "/usr/bin/kill", "-KILL", "-1"])
            #expect(try await eventually(seconds: 10) { try await daemon.state("alpha") == "crashed" })
            #expect(try await eventually(seconds: 5) { hasEnded(vmA) })
            #expect(try await daemon.state("beta") == "running")
            #expect(try await daemon.request("POST", "/v1/vms/beta/pause").state == "paused")
            #expect(!hasEnded(vmB))
            // A jailed VM stops cleanly and leaves its exit file.
            #expect(try await daemon.request("POST", "/v1/vms/beta/stop", body: #"{"force":true}"#).state == "stopped")
        }
    }

    /// Two daemons on one host with the same range never run two VMs under one id: each
    /// claims its VMs' ids in the host's claims folder, and a VM's claim lives as long as
    /// its `vmm`, also when its daemon has died.
    @Test func daemonsSharingAHostNeverShareAJailID() async throws {
        let range = ["--vm-uid-range", "231100-231109"]
        func user(_ pid: Int32) -> String? { ProcessStatus.fields(pid)["Uid"]?.split(separator: "\t").first.map(String.init) }
        try await withDaemon(arguments: range) { first in
            try await withDaemon(arguments: range) { second in
                let alpha = try await startJailed(first, "alpha", disk: "\(first.stateDirectory)/alpha.img")
                let beta = try await startJailed(second, "beta", disk: "\(second.stateDirectory)/beta.img")
                #expect(user(alpha) == "231100" && user(beta) == "231101", "\(user(alpha) ?? "-") \(user(beta) ?? "-")")

                // The first daemon dies; its VM runs on and keeps its id.
                try await first.stopDaemon()
                #expect(!hasEnded(alpha))
                let gamma = try await startJailed(second, "gamma", disk: "\(second.stateDirectory)/gamma.img")
                #expect(user(gamma) == "231102", "\(user(gamma) ?? "-")")

                // Once that VM has ended, its id is free again: once every thread has, for
                // the claim's descriptor is the process's, and the leader turns zombie first.
                kill(alpha, SIGKILL)
                let threadsLeft = { ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(alpha)/task")) ?? []).count }
                #expect(try await eventually(seconds: 10) { hasEnded(alpha) && threadsLeft() <= 1 })
                let delta = try await startJailed(second, "delta", disk: "\(second.stateDirectory)/delta.img")
                #expect(user(delta) == "231100", "\(user(delta) ?? "-")")
            }
        }
    }

    @Test func noJailRunsVMMAsRootInTheHostsNamespaces() async throws {
        try await withDaemon(arguments: ["--no-jail"]) { daemon in
            try await daemon.create("plain")
            #expect(try await daemon.request("POST", "/v1/vms/plain/start").state == "running")
            let pid = try #require(try await daemon.pid("plain"))
            #expect(ProcessStatus.fields(pid)["Uid"]?.hasPrefix("0\t") == true)
            #expect(Self.child(of: pid) == nil)
        }
    }

    /// Python: enters the namespaces of argv[1], becomes uid/gid argv[2], tries to open
    /// argv[3] and lists its root. No exec inside (the jail is noexec).
    static let openFromNamespaces = """
        import ctypes, os, sys
        libc = ctypes.CDLL(None, use_errno=True)
        pid, user, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
        for ns in ("ipc", "uts", "pid", "mnt"):
            fd = os.open(f"/proc/{pid}/ns/{ns}", os.O_RDONLY)
            if libc.setns(fd, 0) != 0:
                raise OSError(ctypes.get_errno(), "setns " + ns)
            os.close(fd)
        os.setgroups([])
        os.setresgid(user, user, user)
        os.setresuid(user, user, user)
        try:
            os.close(os.open(path, os.O_RDONLY))
            print("opened")
        except OSError as error:
            print("refused", error.errno)
        print(sorted(os.listdir("/")))
        """
}
