import ClusterTestSupport
import Etcd
import Foundation
import Glibc
import Testing

extension ClusterMembershipTests {
    /// A daemon restart (an upgrade, a crash) within the fence time keeps the host's lease:
    /// its HA VM runs on in the same `vmm`, never fenced, its owner key untouched. A restart
    /// that comes too late finds the VM fenced; its owner key goes, and the cluster starts
    /// it again.
    @Test func aRestartedDaemonRenewsItsLeaseAndItsHAVMRunsOn() async throws {
        // TTL 6: fenced 3 s after the last renewal, so a restart has about 2.5 s.
        let host = try await startHost("steady", leaseTTL: 6)
        do {
            let etcdClient = try EtcdClient(urls: etcd.clientURLs)
            let definition = #"{"name":"steady-vm","kernel":"\#(TestPaths.kernel("echo"))","memory":16777216,"ha":true}"#
            #expect(try await host.request("POST", "/v1/vms", body: definition).status == 201)
            let started = try await host.request("POST", "/v1/vms/steady-vm/start")
            #expect(started.state == "running", "\(started.text)")
            let vmm = try #require(started.json["pid"] as? Int)
            let lease = try #require(try await etcdClient.get("vmm/hosts/steady")).lease
            #expect(try await etcdClient.get("vmm/owners/steady-vm")?.lease == lease)

            try await host.stopDaemon(signal: SIGKILL)
            try await host.start()
            #expect(host.log.contains("again under its saved lease \(String(lease, radix: 16))"))
            #expect(try await etcdClient.get("vmm/hosts/steady")?.lease == lease)
            // Past the fence time of the old daemon's last renewal: still the same vmm.
            try await Task.sleep(for: .seconds(4))
            let after = try await host.request("GET", "/v1/vms/steady-vm")
            #expect(after.state == "running" && after.json["pid"] as? Int == vmm, "\(after.text)")
            #expect(!hasEnded(pid_t(vmm)))
            #expect(try await etcdClient.get("vmm/owners/steady-vm")?.lease == lease)
            #expect(!host.log.contains("fenced"))

            // Down longer than the fence time: the VM is fenced; the restarted daemon (this
            // one host is the manager) releases its owner key and the VM starts again.
            try await host.stopDaemon(signal: SIGKILL)
            #expect(try await eventually(seconds: 10) { hasEnded(pid_t(vmm)) }, "the VM was not fenced")
            try await host.start()
            #expect(try await eventually(seconds: 20) {
                let now = try await host.request("GET", "/v1/vms/steady-vm")
                return now.state == "running" && now.json["pid"] as? Int != vmm
            }, "the fenced HA VM did not run again:\n\(host.log)")
            #expect(try await etcdClient.get("vmm/owners/steady-vm")?.lease == lease)
        } catch {
            Issue.record("vmmd log:\n\(host.log)")
            await host.tearDown()
            throw error
        }
        await host.tearDown()
    }
}
