import ClusterTestSupport
import Foundation
import Glibc
import Testing

extension DaemonTests {
    /// What systemd/vmmd.service leaves vmmd and its vmm children is enough: no
    /// capability but CAP_NET_ADMIN, no_new_privs, the API's group as the primary group
    /// (Group=, so the socket needs no chown). PID 1 here is not systemd, so setpriv
    /// applies those parts of the unit; a network namespace of the test's own holds the tap.
    @Test func aVMWithATapRunsWithTheUnitsCapabilitiesAlone() async throws {
        guard getuid() == 0 else { return }
        let network = try await HostNetwork(hosts: 1)
        let namespace = network.namespace(0)
        // "users" (gid 100) stands in for kvm, which a test machine may lack.
        let wrapper = [
            "/usr/sbin/ip", "netns", "exec", namespace, "/usr/bin/setpriv", "--bounding-set=-all,+net_admin", "--inh-caps=-all",
            "--no-new-privs", "--reuid=0", "--regid=100", "--init-groups", "--",
        ]
        do {
            try await withDaemon(group: "users", wrapper: wrapper) { daemon in
                // ip netns exec and setpriv exec'd: the harness's process is vmmd.
                let pid = try #require(daemon.daemonPID)
                let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
                #expect(status.contains("CapEff:\t0000000000001000"), "CAP_NET_ADMIN alone:\n\(status)")
                #expect(status.contains("NoNewPrivs:\t1"))
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
                #expect(try await daemon.request("POST", "/v1/vms/lean/kill").state == "stopped")
            }
        } catch {
            await network.delete()
            throw error
        }
        await network.delete()
    }
}
