import ClusterTestSupport
import Foundation
import Glibc
import Testing
import TestSupport

extension DaemonTests {
    /// What systemd/vmmd.service leaves vmmd and its vmm children is enough to run a VM with
    /// a tap, jailed: the unit's capability bounding set (read from the unit file), its
    /// system-call filter and namespace restrictions (`UnitSystemCallFilter`), no_new_privs,
    /// its UMask, the API's group as the primary group and no supplementary groups (Group=,
    /// so the socket needs no chown). PID 1 here is not systemd, so setpriv and that filter
    /// apply those parts of the unit; a network namespace of the test's own holds the tap.
    @Test func aVMWithATapRunsJailedWithTheUnitsPrivilegesAlone() async throws {
        guard getuid() == 0 else { return }
        let unit = "\(TestPaths.packageRoot)/systemd/vmmd.service"
        let capabilities = try Self.unitCapabilityBoundingSet(unit)
        #expect(capabilities.contains("CAP_NET_ADMIN") && !capabilities.contains("CAP_DAC_OVERRIDE"), "\(capabilities)")
        let network = try await HostNetwork(hosts: 1)
        let namespace = network.namespace(0)
        let setpriv = capabilities.map { "+" + $0.dropFirst("CAP_".count).lowercased() }.joined(separator: ",")
        // "users" (gid 100) stands in for kvm, which a test machine may lack.
        let wrapper = [
            "/usr/sbin/ip", "netns", "exec", namespace, "/usr/bin/setpriv", "--bounding-set=-all,\(setpriv)", "--inh-caps=-all",
            "--no-new-privs", "--reuid=0", "--regid=100", "--clear-groups", "--",
            "/usr/bin/python3", "-c", UnitSystemCallFilter.script, unit,
        ]
        do {
            try await withDaemon(group: "users", arguments: ["--vm-uid-range", "232000-232009"], wrapper: wrapper) { daemon in
                // ip netns exec, setpriv and python exec'd: the harness's process is vmmd.
                let pid = try #require(daemon.daemonPID)
                let status = ProcessStatus.fields(pid)
                let expected = capabilities.reduce(UInt64(0)) { $0 | 1 << UInt64(Self.capabilityNumbers[$1] ?? 63) }
                #expect(status["CapEff"] == String(format: "%016lx", expected), "the unit's bounding set alone: \(status)")
                #expect(status["NoNewPrivs"] == "1" && status["Seccomp"] == "2")
                let limits = try String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8).split(separator: "\n")
                for name in ["Max core file size", "Max locked memory"] {
                    let values = limits.first { $0.hasPrefix(name) }?.dropFirst(name.count).split(separator: " ").prefix(2)
                    #expect(values.map(Array.init) == ["0", "0"], "\(name): the unit's Limit*=0")
                }
                var info = stat()
                #expect(stat(daemon.socket, &info) == 0 && info.st_gid == 100 && info.st_mode & 0o777 == 0o660)

                let kernel = TestPaths.kernel("echo")
                let body = #"{"name":"lean","kernel":"\#(kernel)","memory":16777216,"networks":[{"tap":"vmtap-lean"}]}"#
                #expect(try await daemon.request("POST", "/v1/vms", body: body).status == 201)
                let started = try await daemon.request("POST", "/v1/vms/lean/start")
                #expect(started.state == "running", "\(started.text)")
                #expect(try await eventually(seconds: 10) {
                    try await daemon.request("GET", "/v1/vms/lean/console").text.contains("echo: ready")
                })
                let tap = try await Subprocess.run(["/usr/sbin/ip", "-n", namespace, "link", "show", "vmtap-lean"])
                #expect(tap.status == 0, "the tap exists in the daemon's namespace: \(tap)")

                // Jailed: its own uid from the range, no capabilities, its folder as its root.
                // vmmd clones it into its PID namespace under the unit's filter: pid 1 there.
                let vm = try #require(try await daemon.pid("lean"))
                let fields = ProcessStatus.fields(vm)
                #expect(fields["Uid"] == "232000\t232000\t232000\t232000", "pid \(vm): \(fields)")
                #expect(fields["CapEff"] == "0000000000000000" && fields["CapBnd"] == "0000000000000000", "pid \(vm)")
                #expect(fields["NSpid"]?.hasSuffix("\t1") == true, "pid \(vm): \(fields)")
                let root = "\(daemon.runtimeDirectory)/vms/lean/root"
                let seen = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(vm)/root").sorted()
                #expect(seen == (try FileManager.default.contentsOfDirectory(atPath: root).sorted()), "\(seen)")
                #expect(!daemon.log.contains("unjailed"), "\(daemon.log)")
                #expect(daemon.log.contains("VMs run jailed under ids 232000-232009"), "\(daemon.log)")

                // What vmmd reads of a jailed VM without CAP_DAC_OVERRIDE: its status, its
                // snapshot (taken back from the VM's uid), and after a stop its exit file.
                let metrics = try await daemon.request("GET", "/metrics")
                #expect(metrics.text.contains(#"vmm_vm_rss_bytes{vm="lean"}"#), "\(metrics.text)")
                let snapshot = try await daemon.request("POST", "/v1/vms/lean/snapshots", body: #"{"name":"one"}"#)
                #expect(snapshot.status == 201, "\(snapshot.text)")
                let folder = "\(daemon.stateDirectory)/snapshots/lean/one"
                for entry in [""] + (try FileManager.default.contentsOfDirectory(atPath: folder)).map({ "/" + $0 }) {
                    #expect(lstat(folder + entry, &info) == 0 && info.st_uid == 0 && info.st_gid != 232000, "\(folder)\(entry) is root's")
                }
                #expect(try await daemon.request("POST", "/v1/vms/lean/stop", body: #"{"force":true}"#).state == "stopped")
                let lastExit = try await daemon.request("GET", "/v1/vms/lean").json["lastExit"] as? String
                #expect(lastExit?.contains("(status ") == true && lastExit?.contains("no exit file") == false, "\(lastExit ?? "none")")
                #expect(try await daemon.request("DELETE", "/v1/vms/lean/snapshots/one").status == 204)
                #expect(!FileManager.default.fileExists(atPath: folder))
            }
        } catch {
            await network.delete()
            throw error
        }
        await network.delete()
    }

    /// The capabilities the unit's `CapabilityBoundingSet=` lines name.
    static func unitCapabilityBoundingSet(_ unit: String) throws -> [String] {
        let text = try String(contentsOfFile: unit, encoding: .utf8)
        return text.split(separator: "\n").filter { $0.hasPrefix("CapabilityBoundingSet=") }
            .flatMap { $0.dropFirst("CapabilityBoundingSet=".count).split(separator: " ").map(String.init) }
    }

    /// capability(7) numbers of the capabilities a unit may name here.
    static let capabilityNumbers: [String: Int] = [
        "CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3, "CAP_KILL": 5, "CAP_SETGID": 6,
        "CAP_SETUID": 7, "CAP_SETPCAP": 8, "CAP_NET_ADMIN": 12, "CAP_SYS_ADMIN": 21,
    ]
}
